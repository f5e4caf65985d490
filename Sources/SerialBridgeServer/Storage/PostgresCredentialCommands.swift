import HummingbirdBcrypt
import Logging
import NIOCore
import PostgresNIO
import SerialBridgeJSON

/// What `serialbridge-server tokens …` and `users …` do with `--database postgres://…`: the same
/// as ``GatewayTokenCommands`` and ``UserCommands`` on a file, on the tables every instance reads
/// (``PostgresCredentials``). The database is migrated first, so these work on a new one too.
/// Every failure is a ``ServerConfigError`` saying what went wrong.
public enum PostgresCredentialCommands {
    // MARK: Gateway tokens

    /// Issues a new random token for `gateway` and stores its SHA-256.
    /// - Returns: the token (print it once; only its hash is kept) and its entry.
    public static func addToken(gateway: String, database: PostgresURL, now: Int64? = nil) async throws(ServerConfigError) -> (token: String, entry: GatewayTokenFile.Entry) {
        if let problem = GatewayTokenFile.problem(gatewayID: gateway) { throw ServerConfigError(problem) }
        let token = Secret.random(prefix: GatewayTokenCommands.tokenPrefix)
        let entry = GatewayTokenFile.Entry(
            gateway: gateway, hash: Secret.sha256(token), created: UTCTime.format(secondsSince1970: now ?? UTCTime.nowSeconds()), revoked: nil
        )
        try await withConnection(database) { connection, logger in
            _ = try await connection.query("""
                INSERT INTO gateway_tokens (hash, gateway, created) VALUES (\(ByteBuffer(bytes: entry.hash)), \(gateway), \(entry.created))
                """, logger: logger)
        }
        return (token, entry)
    }

    /// Every token (hashes only), revoked ones included.
    public static func listTokens(database: PostgresURL) async throws(ServerConfigError) -> [GatewayTokenFile.Entry] {
        try await withConnection(database) { connection, logger in
            try await PostgresCredentials.readTokens { try await connection.query($0, logger: logger) }
        }
    }

    /// Revokes the tokens of `gateway` (only the one whose fingerprint starts with `fingerprint`,
    /// when given); every instance refuses them, and closes a connection made with one, within
    /// its poll interval.
    /// - Returns: the entries just revoked.
    public static func revokeToken(
        gateway: String, fingerprint: String? = nil, database: PostgresURL, now: Int64? = nil
    ) async throws(ServerConfigError) -> [GatewayTokenFile.Entry] {
        let time = UTCTime.format(secondsSince1970: now ?? UTCTime.nowSeconds())
        let wanted = fingerprint?.lowercased()
        return try await withConnection(database) { connection, logger in
            try await connection.withTransaction(logger: logger) { connection in
                let all = try await PostgresCredentials.readTokens { try await connection.query($0, logger: logger) }
                let candidates = all.filter { $0.gateway == gateway }
                guard !candidates.isEmpty else {
                    let known = Set(all.map(\.gateway)).sorted()
                    throw ServerConfigError(
                        "the database has no token for gateway \"\(gateway)\"" + (known.isEmpty ? " (it has none)" : "; gateways with tokens: \(known.joined(separator: ", "))")
                    )
                }
                if let wanted, !candidates.contains(where: { Secret.hex($0.hash).hasPrefix(wanted) }) {
                    throw ServerConfigError("gateway \"\(gateway)\" has no token with fingerprint \(wanted) (see `tokens list`)")
                }
                var revoked: [GatewayTokenFile.Entry] = []
                for var entry in candidates where entry.revoked == nil && wanted.map({ Secret.hex(entry.hash).hasPrefix($0) }) != false {
                    try await connection.query(
                        "UPDATE gateway_tokens SET revoked = \(time) WHERE hash = \(ByteBuffer(bytes: entry.hash))", logger: logger
                    )
                    entry.revoked = time
                    revoked.append(entry)
                }
                guard !revoked.isEmpty else { throw ServerConfigError("the token(s) of gateway \"\(gateway)\" are already revoked") }
                return revoked
            }
        }
    }

    /// Copies the entries of a token file into the database (revocations included), so that
    /// gateways keep their tokens when a single box moves to PostgreSQL. Entries already there
    /// (same hash) are left as they are.
    /// - Returns: the entries copied.
    /// - Throws: ``ServerConfigError`` for an unreadable or malformed file (plaintext lines must be
    ///   hashed first with `tokens migrate --tokens FILE`).
    public static func importTokens(file: String, database: PostgresURL) async throws(ServerConfigError) -> [GatewayTokenFile.Entry] {
        let entries = try GatewayTokenCommands.list(file: file)
        return try await withConnection(database) { connection, logger in
            try await connection.withTransaction(logger: logger) { connection in
                var copied: [GatewayTokenFile.Entry] = []
                for entry in entries {
                    let rows = try await connection.query("""
                        INSERT INTO gateway_tokens (hash, gateway, created, revoked)
                        VALUES (\(ByteBuffer(bytes: entry.hash)), \(entry.gateway), \(entry.created), \(entry.revoked))
                        ON CONFLICT (hash) DO NOTHING RETURNING gateway
                        """, logger: logger)
                    for try await _ in rows { copied.append(entry) }
                }
                return copied
            }
        }
    }

    // MARK: Users

    /// Adds a user (or, with `update`, sets an existing user's password) with a bcrypt hash.
    public static func addUser(
        name: String, password: String, database: PostgresURL, update: Bool = false, cost: UInt8 = UserCommands.defaultCost
    ) async throws(ServerConfigError) {
        if let problem = UserFile.problem(userName: name) { throw ServerConfigError(problem) }
        if let problem = UserCommands.problem(password: password) { throw ServerConfigError(problem) }
        guard (4...31).contains(cost) else { throw ServerConfigError("the bcrypt cost is 4 to 31") }
        let hash = Bcrypt.hash(password, cost: cost)
        try await withConnection(database) { connection, logger in
            let rows = update
                ? try await connection.query("UPDATE server_users SET hash = \(hash) WHERE name = \(name) RETURNING name", logger: logger)
                : try await connection.query(
                    "INSERT INTO server_users (name, hash) VALUES (\(name), \(hash)) ON CONFLICT (name) DO NOTHING RETURNING name", logger: logger
                )
            var changed = false
            for try await _ in rows { changed = true }
            if !changed {
                throw ServerConfigError(update ? "no user \"\(name)\" to update" : "user \"\(name)\" exists; use --update to set a new password")
            }
        }
    }

    /// Removes a user; their sessions end at their next request on every instance (within the poll interval).
    public static func removeUser(name: String, database: PostgresURL) async throws(ServerConfigError) {
        try await withConnection(database) { connection, logger in
            var removed = false
            for try await _ in try await connection.query("DELETE FROM server_users WHERE name = \(name) RETURNING name", logger: logger) {
                removed = true
            }
            if !removed { throw ServerConfigError("no user \"\(name)\" in the database") }
        }
    }

    /// The user names, sorted.
    public static func listUsers(database: PostgresURL) async throws(ServerConfigError) -> [String] {
        try await withConnection(database) { connection, logger in
            try await PostgresCredentials.readUsers { try await connection.query($0, logger: logger) }.keys.sorted()
        }
    }

    /// Copies the users of an htpasswd file into the database; users already there are left as they are.
    /// - Returns: the names copied.
    public static func importUsers(file: String, database: PostgresURL) async throws(ServerConfigError) -> [String] {
        let text: String
        do {
            text = String(decoding: try FileContents.read(file), as: UTF8.self)
        } catch {
            throw ServerConfigError("\(file): cannot read users file: \(error)")
        }
        let users = try UserFile.parse(text, file: file).users
        return try await withConnection(database) { connection, logger in
            try await connection.withTransaction(logger: logger) { connection in
                var copied: [String] = []
                for user in users {
                    let rows = try await connection.query("""
                        INSERT INTO server_users (name, hash) VALUES (\(user.name), \(user.hash)) ON CONFLICT (name) DO NOTHING RETURNING name
                        """, logger: logger)
                    for try await _ in rows { copied.append(user.name) }
                }
                return copied
            }
        }
    }

    // MARK: Connection

    /// Migrates the database, runs `body` on a connection of its own, closes it.
    private static func withConnection<T: Sendable>(
        _ url: PostgresURL, _ body: (PostgresConnection, Logger) async throws -> T
    ) async throws(ServerConfigError) -> T {
        let logger = Logger(label: "serialbridge-server.credentials")
        let storage = PostgresStorage(url: url, logger: logger)
        let connection: PostgresConnection
        do {
            try await storage.migrate()
            connection = try await PostgresConnection.connect(configuration: storage.url.connectionConfiguration(), id: 1, logger: logger)
        } catch {
            throw ServerConfigError("\(error)")
        }
        do {
            let result = try await body(connection, logger)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            // A refusal from inside a transaction comes wrapped in the transaction's error.
            if let refusal = (error as? ServerConfigError) ?? ((error as? PostgresTransactionError)?.closureError as? ServerConfigError) {
                throw refusal
            }
            let cause = (error as? PostgresTransactionError).flatMap { $0.closureError ?? $0.commitError ?? $0.beginError } ?? error
            throw ServerConfigError("PostgreSQL at \(url): \(PostgresStorage.reason(cause))")
        }
    }
}
