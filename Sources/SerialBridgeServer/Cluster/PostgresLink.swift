import Logging
import PostgresNIO

/// One PostgreSQL connection, opened on first use and again after it was lost. Queries from many
/// tasks share it: postgres-nio runs them in the order they were issued, which keeps NOTIFYs of
/// one instance in order.
actor PostgresLink {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    /// Runs on every new connection before anyone uses it (schema set-up).
    private let prepare: @Sendable (PostgresConnection, Logger) async throws -> Void
    private var current: PostgresConnection?
    private var connecting: Task<PostgresConnection, any Error>?
    private var nextID = 0
    private var closed = false

    /// A link that connects with `configuration`, naming itself `name` in `pg_stat_activity`.
    init(
        configuration: PostgresConnection.Configuration, name: String, logger: Logger,
        prepare: @escaping @Sendable (PostgresConnection, Logger) async throws -> Void = { _, _ in }
    ) {
        var configuration = configuration
        configuration.options.additionalStartupParameters.append(("application_name", name))
        self.configuration = configuration
        self.logger = logger
        self.prepare = prepare
    }

    /// The open connection, connecting (and preparing) first when there is none.
    func connection() async throws -> PostgresConnection {
        if let current, !current.isClosed { return current }
        if let connecting { return try await connecting.value }
        guard !closed else { throw PostgresLinkError.closed }
        nextID += 1
        let (configuration, logger, prepare, id) = (self.configuration, self.logger, self.prepare, nextID)
        let task = Task {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
            do {
                try await prepare(connection, logger)
            } catch {
                try? await connection.close()
                throw error
            }
            return connection
        }
        connecting = task
        defer { connecting = nil }
        let connection = try await task.value
        if closed {
            try? await connection.close()
            throw PostgresLinkError.closed
        }
        current = connection
        return connection
    }

    /// Runs `query`, returning its rows (read them before the next query on a busy link).
    func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let connection = try await connection()
        return try await connection.query(query, logger: logger).collect()
    }

    /// Closes the connection; later calls fail with ``PostgresLinkError/closed``.
    func close() async {
        closed = true
        if let current { try? await current.close() }
        current = nil
    }
}

/// The link was closed (the bus is stopping).
enum PostgresLinkError: Error, CustomStringConvertible {
    case closed

    var description: String { "the bus's PostgreSQL connection is closed (server stopping)" }
}
