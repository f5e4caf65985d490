import ArgumentParser
import SerialBridgeServer

/// `serialbridge-server tokens …`: gateway tokens, stored as hashes.
struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage gateway tokens (the token file, or the PostgreSQL database with --database, keeps only their SHA-256).",
        subcommands: [Add.self, List.self, Revoke.self, Migrate.self, Import.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new token for a gateway: prints it once and stores only its hash (the file is created if missing)."
        )

        @Argument(help: "Gateway id (the gatewayId of its config).")
        var gateway: String

        @OptionGroup var store: TokensStore

        func run() async throws {
            let target = try store.target()
            let (token, entry) = try await fail { () async throws(ServerConfigError) in
                switch target {
                case .file(let file): try GatewayTokenCommands.add(gateway: gateway, file: file)
                case .database(let url): try await PostgresCredentialCommands.addToken(gateway: gateway, database: url)
                }
            }
            print(token)
            printError("issued a token for gateway \"\(gateway)\" (fingerprint \(entry.fingerprint)); it is shown only now: put it in the gateway's tokenFile")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens: gateway, created, fingerprint, revoked (never the tokens).")

        @OptionGroup var store: TokensStore

        func run() async throws {
            let target = try store.target()
            let entries = try await fail { () async throws(ServerConfigError) in
                switch target {
                case .file(let file): try GatewayTokenCommands.list(file: file)
                case .database(let url): try await PostgresCredentialCommands.listTokens(database: url)
                }
            }
            let width = max(7, entries.map(\.gateway.count).max() ?? 0)
            print("GATEWAY".padding(width) + "  CREATED               FINGERPRINT   STATUS")
            for entry in entries {
                let status = entry.revoked.map { "revoked \($0)" } ?? "active"
                print(entry.gateway.padding(width) + "  " + entry.created.padding(20) + "  " + entry.fingerprint + "  " + status)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a gateway's tokens: refused at its next connect; a running server also closes its connection."
        )

        @Argument(help: "Gateway id.")
        var gateway: String

        @Option(name: .long, help: "Revoke only the token with this fingerprint (from `tokens list`).")
        var fingerprint: String?

        @OptionGroup var store: TokensStore

        func run() async throws {
            let target = try store.target()
            let revoked = try await fail { () async throws(ServerConfigError) in
                switch target {
                case .file(let file): try GatewayTokenCommands.revoke(gateway: gateway, fingerprint: fingerprint, file: file)
                case .database(let url): try await PostgresCredentialCommands.revokeToken(gateway: gateway, fingerprint: fingerprint, database: url)
                }
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

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a token file's hashes (revocations included) into the PostgreSQL database, so gateways keep their tokens."
        )

        @Option(name: .long, help: "Token file to copy from (left as it is).")
        var from: String

        @Option(name: .long, help: "PostgreSQL database URL (default SERIALBRIDGE_DATABASE).")
        var database: String?

        func run() async throws {
            guard case .database(let url) = try CredentialTarget.resolve(file: nil, database: database, fileFlag: "--tokens") else { return }
            let copied = try await fail { () async throws(ServerConfigError) in try await PostgresCredentialCommands.importTokens(file: from, database: url) }
            print("copied \(copied.count) token(s) from \(from) into the database" + (copied.isEmpty ? "" : ": " + Set(copied.map(\.gateway)).sorted().joined(separator: ", ")))
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

/// Where the `tokens` subcommands read and write: `--tokens FILE`, or `--database URL` (default
/// `SERIALBRIDGE_DATABASE`) for the instances that share PostgreSQL.
struct TokensStore: ParsableArguments {
    @Option(name: .long, help: "Token file (SQLite, one server).")
    var tokens: String?

    @Option(name: .long, help: "PostgreSQL database URL shared by the instances (default SERIALBRIDGE_DATABASE when no --tokens).")
    var database: String?

    func target() throws -> CredentialTarget {
        try CredentialTarget.resolve(file: tokens, database: database, fileFlag: "--tokens")
    }
}
