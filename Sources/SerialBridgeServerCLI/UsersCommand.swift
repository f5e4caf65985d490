import ArgumentParser
import SerialBridgeServer

/// `serialbridge-server users …`: the people who may log in (htpasswd file, bcrypt).
struct Users: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage users who may log in (htpasswd format, bcrypt; `htpasswd -B` writes the same file).",
        subcommands: [Add.self, Remove.self, List.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user; the password is read from standard input (asked twice, not echoed, at a terminal)."
        )

        @Argument(help: "User name.")
        var name: String

        @Option(name: .long, help: "Users file (created if missing).")
        var users: String

        @Flag(name: .long, help: "Set a new password for an existing user.")
        var update = false

        @Option(name: .long, help: "bcrypt cost (log2 of the rounds), 4 to 31.")
        var cost: UInt8 = UserCommands.defaultCost

        func run() throws {
            let password: String
            do {
                password = try PasswordPrompt.read(for: name)
            } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
            try fail { () throws(ServerConfigError) in
                try UserCommands.add(name: name, password: password, file: users, update: update, cost: cost)
            }
            printError(update ? "set a new password for \"\(name)\"" : "added user \"\(name)\"")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user; their sessions end at their next request.")

        @Argument(help: "User name.")
        var name: String

        @Option(name: .long, help: "Users file.")
        var users: String

        func run() throws {
            try fail { () throws(ServerConfigError) in try UserCommands.remove(name: name, file: users) }
            printError("removed user \"\(name)\"")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List user names.")

        @Option(name: .long, help: "Users file.")
        var users: String

        func run() throws {
            for name in try fail({ () throws(ServerConfigError) in try UserCommands.list(file: users) }) { print(name) }
        }
    }
}
