import Logging
import ServiceLifecycle

/// Which storage backend the server uses: an embedded SQLite file (one server) or a PostgreSQL
/// database (one or several server instances sharing it). See docs/SERVER.md, "Storage backends".
public enum ServerDatabase: Sendable, Hashable, CustomStringConvertible {
    /// A SQLite file at this path (created if missing).
    case sqlite(path: String)
    /// A PostgreSQL database, by `postgres://` URL.
    case postgres(PostgresURL)

    /// `postgres://…` or `postgresql://…` as PostgreSQL; anything else is a SQLite file path.
    /// Throws ``PostgresURLError`` for a PostgreSQL URL that cannot be used.
    public init(parsing text: String) throws(PostgresURLError) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            self = .postgres(try PostgresURL(text))
        } else {
            self = .sqlite(path: text)
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "SQLite \(path)"
        case .postgres(let url): "PostgreSQL \(url)"
        }
    }

    /// Opens the storage, ready for the server: SQLite opened and migrated; PostgreSQL connected
    /// once, migrated, with its connection pool returned as a service to run (first in the group).
    /// Throws why it cannot (``PostgresStorageError``, or SQLite's error).
    public func open(logger: Logger) async throws -> OpenedStorage {
        switch self {
        case .sqlite(let path):
            return OpenedStorage(storage: try SQLiteStorage(path: path), services: [])
        case .postgres(let url):
            let storage = PostgresStorage(url: url, logger: logger)
            try await storage.migrate()
            let credentials = try await PostgresCredentials.load(storage: storage)
            return OpenedStorage(storage: storage, services: [storage], credentials: credentials)
        }
    }
}

/// A storage opened for a server, with the services it needs running (PostgreSQL's connection pool).
public struct OpenedStorage: Sendable {
    /// The storage.
    public var storage: any ServerStorage
    /// Services to run for as long as the storage is used, started before and stopped after the
    /// server's own; empty for SQLite.
    public var services: [any Service]
    /// Gateway tokens and users kept in the database (PostgreSQL only), for servers that take them
    /// from there (``ServerOptions/tokensFromDatabase``, ``AuthOptions/usersFromDatabase``).
    public var credentials: PostgresCredentials?

    /// Creates an opened storage.
    public init(storage: any ServerStorage, services: [any Service], credentials: PostgresCredentials? = nil) {
        self.storage = storage
        self.services = services
        self.credentials = credentials
    }
}
