import Logging
import NIOSSL
import PostgresNIO
import SerialBridgeProtocol
import ServiceLifecycle

/// Storage in PostgreSQL, shared by several server instances (docs/SERVER.md, "PostgreSQL").
///
/// Queries go through postgres-nio's `PostgresClient`, a connection pool that must run as a
/// service: ``run()`` runs it (put the storage first in the service group, so that it stops last).
/// ``migrate()`` brings the schema up to date before the server starts; it also tells at start,
/// with a clear message, that the database cannot be reached.
///
/// Readings are written in groups (``GroupCommit`` with ``PostgresReadingWriter``): the batches of
/// every connection that arrived while a transaction ran go together in the next one, readings
/// with their device totals and rollup cells, and each caller is answered after the commit.
public final class PostgresStorage: ServerStorage, Service {
    /// Where the database is (without password in its description).
    public let url: PostgresURL
    let client: PostgresClient
    let logger: Logger
    let partitions: PostgresPartitions
    let now: @Sendable () -> Int64
    let readingWrites: GroupCommit<ReadingBatch, [Reading]>

    /// Creates the storage for `url` (nothing is connected until ``migrate()`` and ``run()``).
    /// `maximumConnections` bounds the pool; `now` is the wall clock (ms) partitions are planned by.
    public init(
        url: PostgresURL, maximumConnections: Int = 16, logger: Logger,
        now: @escaping @Sendable () -> Int64 = Timestamp.nowMilliseconds
    ) {
        self.url = url
        self.logger = logger
        self.now = now
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: Self.clientTLS(url.tls)
        )
        configuration.options.maximumConnections = max(2, maximumConnections)
        configuration.options.minimumConnections = 1
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let partitions = PostgresPartitions()
        self.partitions = partitions
        let writer = PostgresReadingWriter(client: client, partitions: partitions, logger: logger, now: now)
        readingWrites = GroupCommit(commit: writer.commit)
    }

    /// Parses `url` (a `postgres://` URL) and creates the storage; throws ``PostgresURLError`` for a bad URL.
    public convenience init(url: String, logger: Logger) throws {
        try self.init(url: PostgresURL(url), logger: logger)
    }

    /// Connects once, applies the schema migrations the database lacks (under an advisory lock, so
    /// that instances starting together do not race), and makes the coming days' partitions.
    /// Throws ``PostgresStorageError`` saying what failed (unreachable, refused login, migration).
    public func migrate() async throws {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: connectionConfiguration(), id: 0, logger: logger)
        } catch {
            throw PostgresStorageError.unreachable(url: url.description, reason: Self.reason(error))
        }
        do {
            try await PostgresSchema.migrate(connection, logger: logger)
            let cutoffs = try await connection.query("SELECT raw_cutoff FROM retention_state", logger: logger).decode(Int64?.self)
            for try await cutoff in cutoffs { if let cutoff { partitions.raiseHorizon(to: cutoff) } }
            try await partitions.ensure(days: partitions.aheadDays(now: now()), on: connection, logger: logger)
        } catch {
            try? await connection.close()
            throw PostgresStorageError.migration(url: url.description, reason: Self.reason(error))
        }
        try? await connection.close()
    }

    /// Runs the connection pool until cancelled or graceful shutdown; queries wait while it is not running.
    public func run() async {
        await client.run()
    }

    // MARK: Gateways and devices

    public func recordHello(_ hello: Hello, receivedAt: Int64) async throws -> Int64? {
        let rows = try await client.query("""
            WITH previous AS (SELECT dropped FROM gateways WHERE gateway = \(hello.gateway))
            INSERT INTO gateways (gateway, software, epoch, dropped, seen)
            VALUES (\(hello.gateway), \(hello.software), \(hello.epoch), \(hello.dropped), \(receivedAt))
            ON CONFLICT (gateway) DO UPDATE SET
                software = excluded.software, epoch = excluded.epoch, dropped = excluded.dropped, seen = excluded.seen
            RETURNING (SELECT dropped FROM previous)
            """, logger: logger)
        for try await previous in rows.decode(Int64?.self) { return previous }
        return nil
    }

    public func lastStored(gateway: String) async throws -> ReadingID? {
        // The high-water mark: raised with every reading or event stored, never lowered (retention
        // deletes rows, not marks).
        let rows = try await client.query(
            "SELECT epoch, seq FROM gateway_marks WHERE gateway = \(gateway) AND epoch IS NOT NULL", logger: logger
        )
        for try await (epoch, sequence) in rows.decode((Int64, Int64).self) { return ReadingID(epoch: epoch, sequence: sequence) }
        return nil
    }

    public func gateways() async throws -> [StoredGateway] {
        try await storedGateways(client.query(
            #"SELECT gateway, software, epoch, dropped, seen FROM gateways ORDER BY gateway COLLATE "C""#, logger: logger
        ))
    }

    public func gatewayStatus(gateway: String) async throws -> StoredGateway? {
        try await storedGateways(client.query(
            "SELECT gateway, software, epoch, dropped, seen FROM gateways WHERE gateway = \(gateway)", logger: logger
        )).first
    }

    private func storedGateways(_ rows: PostgresRowSequence) async throws -> [StoredGateway] {
        var gateways: [StoredGateway] = []
        for try await (gateway, software, epoch, dropped, seen) in rows.decode((String, String, Int64, Int64?, Int64).self) {
            gateways.append(StoredGateway(gateway: gateway, software: software, epoch: epoch, dropped: dropped, lastSeen: seen))
        }
        return gateways
    }

    /// The device columns and their state, for ``deviceSummaries(_:)``.
    private static let deviceColumns = """
        SELECT d.gateway, d.device, d.profile, d.last_ts, d.last_vals, d.units, d.readings, d.last_out_of_range,
               s.state, s.message, s.counters, s.commands
        FROM devices d LEFT JOIN device_state s ON s.gateway = d.gateway AND s.device = d.device
        """

    public func devices(gateway: String?) async throws -> [DeviceSummary] {
        // Byte order, as SQLite sorts, whatever the database's collation.
        let order = #" ORDER BY d.gateway COLLATE "C", d.device COLLATE "C""#
        if let gateway {
            return try await deviceSummaries(client.query(
                "\(unescaped: Self.deviceColumns) WHERE d.gateway = \(gateway)\(unescaped: order)", logger: logger
            ))
        }
        return try await deviceSummaries(client.query("\(unescaped: Self.deviceColumns)\(unescaped: order)", logger: logger))
    }

    public func device(gateway: String, device: String) async throws -> DeviceSummary? {
        try await deviceSummaries(client.query(
            "\(unescaped: Self.deviceColumns) WHERE d.gateway = \(gateway) AND d.device = \(device)", logger: logger
        )).first
    }

    private func deviceSummaries(_ rows: PostgresRowSequence) async throws -> [DeviceSummary] {
        var devices: [DeviceSummary] = []
        let decoded = rows.decode(
            (String, String, String, Int64, String, String, Int64, String?, String?, String?, String?, String?).self
        )
        for try await (gateway, device, profile, lastTimestamp, values, units, count, outOfRange, state, message, counters, commands) in decoded {
            devices.append(DeviceSummary(
                id: "\(gateway):\(device)", gateway: gateway, device: device, profile: profile, lastTimestamp: lastTimestamp,
                lastValuesJSON: values, unitsJSON: units, readingCount: count, lastOutOfRangeJSON: outOfRange,
                state: state, stateMessage: message, stateCountersJSON: counters, commandsJSON: commands
            ))
        }
        return devices
    }

    public func deviceState(gateway: String, device: String) async throws -> DeviceStateRecord? {
        let rows = try await client.query(
            "SELECT state, message, counters FROM device_state WHERE gateway = \(gateway) AND device = \(device)", logger: logger
        )
        for try await (state, message, counters) in rows.decode((String, String?, String).self) {
            return DeviceStateRecord(state: state, message: message, countersJSON: counters)
        }
        return nil
    }

    // MARK: Connection settings

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch url.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    private static func clientTLS(_ mode: PostgresURL.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    /// What went wrong, in words: postgres-nio's errors hide the server's message from
    /// `description` (it may hold data), so take it from the debug description.
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return String(describing: error)
    }
}

/// Why the PostgreSQL storage could not start.
public enum PostgresStorageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No connection could be made (host down, wrong port, refused login, no such database).
    case unreachable(url: String, reason: String)
    /// Connected, but the schema could not be brought up to date.
    case migration(url: String, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason): "cannot connect to PostgreSQL at \(url): \(reason)"
        case .migration(let url, let reason): "cannot migrate the PostgreSQL schema at \(url): \(reason)"
        }
    }
}
