import ArgumentParser
import SerialBridgeServer

/// `serialbridge-server tokens …`: gateway tokens, stored as hashes.
struct Tokens: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage gateway tokens (the token file keeps only their SHA-256).",
        subcommands: [Add.self, List.self, Revoke.self, Migrate.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new token for a gateway: prints it once and stores only its hash (the file is created if missing)."
        )

        @Argument(help: "Gateway id (the gatewayId of its config).")
        var gateway: String

        @Option(name: .long, help: "Token file.")
        var tokens: String

        func run() throws {
            let (token, entry) = try fail { () throws(ServerConfigError) in try GatewayTokenCommands.add(gateway: gateway, file: tokens) }
            print(token)
            printError("issued a token for gateway \"\(gateway)\" (fingerprint \(entry.fingerprint)); it is shown only now: put it in the gateway's tokenFile")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens: gateway, created, fingerprint, revoked (never the tokens).")

        @Option(name: .long, help: "Token file.")
        var tokens: String

        func run() throws {
            let entries = try fail { () throws(ServerConfigError) in try GatewayTokenCommands.list(file: tokens) }
            let width = max(7, entries.map(\.gateway.count).max() ?? 0)
            print("GATEWAY".padding(width) + "  CREATED               FINGERPRINT   STATUS")
            for entry in entries {
                let status = entry.revoked.map { "revoked \($0)" } ?? "active"
                print(entry.gateway.padding(width) + "  " + entry.created.padding(20) + "  " + entry.fingerprint + "  " + status)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a gateway's tokens: refused at its next connect; a running server also closes its connection."
        )

        @Argument(help: "Gateway id.")
        var gateway: String

        @Option(name: .long, help: "Revoke only the token with this fingerprint (from `tokens list`).")
        var fingerprint: String?

        @Option(name: .long, help: "Token file.")
        var tokens: String

        func run() throws {
            let revoked = try fail { () throws(ServerConfigError) in
                try GatewayTokenCommands.revoke(gateway: gateway, fingerprint: fingerprint, file: tokens)
            }
            for entry in revoked { print("revoked token \(entry.fingerprint) of gateway \"\(entry.gateway)\"") }
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hash the plaintext `GATEWAY TOKEN` lines of an old token file in place (gateways keep their tokens)."
        )

        @Option(name: .long, help: "Token file.")
        var tokens: String

        func run() throws {
            let converted = try fail { () throws(ServerConfigError) in try GatewayTokenCommands.migrate(file: tokens) }
            print(converted.isEmpty ? "no plaintext tokens in \(tokens)" : "hashed the tokens of: \(converted.joined(separator: ", "))")
        }
    }
}

/// Runs `body`; a ``ServerConfigError`` becomes a clean message and exit status 1.
func fail<T>(_ body: () throws(ServerConfigError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
