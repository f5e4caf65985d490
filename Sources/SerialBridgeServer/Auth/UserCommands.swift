import SerialBridgeJSON
import HummingbirdBcrypt

/// What `serialbridge-server users add|remove|list` do to a users file. The CLI reads the password
/// and prints; these functions are the behaviour (and what the tests call).
public enum UserCommands {
    /// The bcrypt cost `users add` uses unless told otherwise: about a quarter of a second per
    /// login on one core of a small server, and as long per guess for whoever steals the file.
    public static let defaultCost: UInt8 = 12

    /// Why `password` cannot be used, or nil. bcrypt reads at most 72 bytes and stops at a NUL.
    public static func problem(password: String) -> String? {
        let count = password.utf8.count
        if count < 8 { return "the password needs at least 8 characters" }
        if count > 72 { return "bcrypt uses only the first 72 bytes of a password; choose one of at most 72 bytes" }
        if password.utf8.contains(0) { return "the password contains a NUL character" }
        return nil
    }

    /// Adds a user (or, with `update`, sets an existing user's password); creates the file if missing.
    /// - Throws: ``ServerConfigError`` for a bad name or password, an existing user without
    ///   `update`, an unknown one with it, or a file that cannot be read or written.
    public static func add(
        name: String, password: String, file: String, update: Bool = false, cost: UInt8 = defaultCost
    ) throws(ServerConfigError) {
        if let problem = UserFile.problem(userName: name) { throw ServerConfigError(problem) }
        if let problem = problem(password: password) { throw ServerConfigError(problem) }
        guard (4...31).contains(cost) else { throw ServerConfigError("the bcrypt cost is 4 to 31") }
        var users = try UserFile.parse(SecretFile.readIfPresent(file), file: file)
        let exists = users.hashOf(name) != nil
        if exists && !update { throw ServerConfigError("\(file): user \"\(name)\" exists; use --update to set a new password") }
        if !exists && update { throw ServerConfigError("\(file): no user \"\(name)\" to update") }
        _ = users.set(name, hash: Bcrypt.hash(password, cost: cost))
        try SecretFile.replace(file, with: users.rendered())
    }

    /// Removes a user. Their open sessions end at their next request (the server re-reads the file).
    /// - Throws: ``ServerConfigError`` for an unknown user or a file that cannot be read or written.
    public static func remove(name: String, file: String) throws(ServerConfigError) {
        var users = try UserFile.parse(readExisting(file), file: file)
        guard users.remove(name) else {
            throw ServerConfigError("\(file): no user \"\(name)\"; users: \(users.users.map(\.name).joined(separator: ", "))")
        }
        try SecretFile.replace(file, with: users.rendered())
    }

    /// The user names in the file.
    public static func list(file: String) throws(ServerConfigError) -> [String] {
        try UserFile.parse(readExisting(file), file: file).users.map(\.name)
    }

    private static func readExisting(_ file: String) throws(ServerConfigError) -> String {
        do {
            return String(decoding: try FileContents.read(file), as: UTF8.self)
        } catch {
            throw ServerConfigError("\(file): cannot read users file: \(error)")
        }
    }
}
