import ArgumentParser
import SerialBridgeServer

/// `serialbridge-server users …`: the people who may log in (htpasswd file, bcrypt).
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage users who may log in (htpasswd format, bcrypt; `htpasswd -B` writes the same file; or the PostgreSQL database with --database).",
        subcommands: [Add.self, Remove.self, List.self, Import.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user; the password is read from standard input (asked twice, not echoed, at a terminal)."
        )

        @Argument(help: "User name.")
        var name: String

        @OptionGroup var store: UsersStore

        @Flag(name: .long, help: "Set a new password for an existing user.")
        var update = false

        @Option(name: .long, help: "bcrypt cost (log2 of the rounds), 4 to 31.")
        var cost: UInt8 = UserCommands.defaultCost

        func run() async throws {
            let target = try store.target()
            let password: String
            do {
                password = try PasswordPrompt.read(for: name)
            } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
            try await fail { () async throws(ServerConfigError) in
                switch target {
                case .file(let file): try UserCommands.add(name: name, password: password, file: file, update: update, cost: cost)
                case .database(let url): try await PostgresCredentialCommands.addUser(name: name, password: password, database: url, update: update, cost: cost)
                }
            }
            printError(update ? "set a new password for \"\(name)\"" : "added user \"\(name)\"")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user; their sessions end at their next request.")

        @Argument(help: "User name.")
        var name: String

        @OptionGroup var store: UsersStore

        func run() async throws {
            let target = try store.target()
            try await fail { () async throws(ServerConfigError) in
                switch target {
                case .file(let file): try UserCommands.remove(name: name, file: file)
                case .database(let url): try await PostgresCredentialCommands.removeUser(name: name, database: url)
                }
            }
            printError("removed user \"\(name)\"")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List user names.")

        @OptionGroup var store: UsersStore

        func run() async throws {
            let target = try store.target()
            let names = try await fail { () async throws(ServerConfigError) in
                switch target {
                case .file(let file): try UserCommands.list(file: file)
                case .database(let url): try await PostgresCredentialCommands.listUsers(database: url)
                }
            }
            for name in names { print(name) }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the users of an htpasswd file (bcrypt hashes) into the PostgreSQL database; users already there are kept."
        )

        @Option(name: .long, help: "Users file to copy from (left as it is).")
        var from: String

        @Option(name: .long, help: "PostgreSQL database URL (default SERIALBRIDGE_DATABASE).")
        var database: String?

        func run() async throws {
            guard case .database(let url) = try CredentialTarget.resolve(file: nil, database: database, fileFlag: "--users") else { return }
            let copied = try await fail { () async throws(ServerConfigError) in try await PostgresCredentialCommands.importUsers(file: from, database: url) }
            print("copied \(copied.count) user(s) from \(from) into the database" + (copied.isEmpty ? "" : ": " + copied.joined(separator: ", ")))
        }
    }
}

/// Where the `users` subcommands read and write: `--users FILE`, or `--database URL` (default
/// `SERIALBRIDGE_DATABASE`) for the instances that share PostgreSQL.
struct UsersStore: ParsableArguments {
    @Option(name: .long, help: "Users file (created if missing).")
    var users: String?

    @Option(name: .long, help: "PostgreSQL database URL shared by the instances (default SERIALBRIDGE_DATABASE when no --users).")
    var database: String?

    func target() throws -> CredentialTarget {
        try CredentialTarget.resolve(file: users, database: database, fileFlag: "--users")
    }
}
