import GRDB
import SerialBridgeJSON
import SerialBridgeProtocol

/// The default storage: one SQLite file in WAL mode through GRDB. Writes are serialised by the
/// pool's single writer; reads run beside them on their own connections.
///
/// Each batch of readings is written in one transaction (readings, device totals, rollup cells)
/// together with the batches of other connections that arrived meanwhile (``GroupCommit``), so
/// commits do not grow with the number of gateways.
public final class SQLiteStorage: ServerStorage {
    let pool: DatabasePool
    let readingWrites: GroupCommit<ReadingBatch, [Reading]>

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String) throws {
        var configuration = Configuration()
        // Another connection to the file (a second server process, or tools) may hold the write
        // lock for a moment: wait for it rather than fail the gateway's batch.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL: a commit survives a process crash; the last few may
            // be lost on power loss, which the gateway's resend covers (it keeps unacked readings).
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // A group commit's transaction touches many pages: keep them in memory rather than
            // spilling to the WAL mid-transaction, and keep savepoints' statement journals in
            // memory (both showed as a fifth of the server's time in pwrite under load).
            try db.execute(sql: "PRAGMA cache_size = -65536")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try SQLiteSchema.migrator.migrate(pool)
        readingWrites = GroupCommit(pool: pool, perform: Self.insert)
    }

    public func recordHello(_ hello: Hello, receivedAt: Int64) async throws -> Int64? {
        try await pool.write { db in
            let previous = try Int64.fetchOne(db, sql: "SELECT dropped FROM gateways WHERE gateway = ?", arguments: [hello.gateway])
            try db.execute(sql: """
                INSERT INTO gateways (gateway, software, epoch, dropped, seen) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (gateway) DO UPDATE SET
                    software = excluded.software, epoch = excluded.epoch, dropped = excluded.dropped, seen = excluded.seen
                """, arguments: [hello.gateway, hello.software, hello.epoch, hello.dropped, receivedAt])
            return previous
        }
    }

    public func lastStored(gateway: String) async throws -> ReadingID? {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT epoch, seq FROM (
                    SELECT epoch, seq FROM readings WHERE gateway = ?
                    UNION ALL
                    SELECT epoch, seq FROM device_events WHERE gateway = ?
                    UNION ALL
                    SELECT epoch, seq FROM pruned_marks WHERE gateway = ?
                ) ORDER BY epoch DESC, seq DESC LIMIT 1
                """, arguments: [gateway, gateway, gateway])
            return row.map { ReadingID(epoch: $0["epoch"], sequence: $0["seq"]) }
        }
    }

    public func gateways() async throws -> [StoredGateway] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT gateway, software, epoch, dropped, seen FROM gateways ORDER BY gateway")
                .map(Self.gateway)
        }
    }

    public func gatewayStatus(gateway: String) async throws -> StoredGateway? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT gateway, software, epoch, dropped, seen FROM gateways WHERE gateway = ?", arguments: [gateway])
                .map(Self.gateway)
        }
    }

    private static func gateway(_ row: Row) -> StoredGateway {
        StoredGateway(gateway: row["gateway"], software: row["software"], epoch: row["epoch"], dropped: row["dropped"], lastSeen: row["seen"])
    }

    public func devices(gateway: String?) async throws -> [DeviceSummary] {
        try await pool.read { db in
            let filter = gateway == nil ? "" : "WHERE devices.gateway = ?"
            return try Row.fetchAll(db, sql: """
                SELECT devices.*, device_state.state AS state, device_state.message AS state_message,
                       device_state.counters AS state_counters, device_state.commands AS state_commands
                FROM devices LEFT JOIN device_state USING (gateway, device)
                \(filter)
                ORDER BY gateway, device
                """, arguments: StatementArguments(gateway.map { [$0] } ?? [])).map(Self.device)
        }
    }

    public func device(gateway: String, device: String) async throws -> DeviceSummary? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT devices.*, device_state.state AS state, device_state.message AS state_message,
                       device_state.counters AS state_counters, device_state.commands AS state_commands
                FROM devices LEFT JOIN device_state USING (gateway, device)
                WHERE devices.gateway = ? AND devices.device = ?
                """, arguments: [gateway, device]).map(Self.device)
        }
    }

    private static func device(_ row: Row) -> DeviceSummary {
        let gateway: String = row["gateway"]
        let device: String = row["device"]
        return DeviceSummary(
            id: "\(gateway):\(device)", gateway: gateway, device: device, profile: row["profile"],
            lastTimestamp: row["last_ts"], lastValuesJSON: row["last_vals"], unitsJSON: row["units"],
            readingCount: row["readings"], lastOutOfRangeJSON: row["last_out_of_range"],
            state: row["state"], stateMessage: row["state_message"], stateCountersJSON: row["state_counters"],
            commandsJSON: row["state_commands"]
        )
    }

    public func deviceState(gateway: String, device: String) async throws -> DeviceStateRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT state, message, counters FROM device_state WHERE gateway = ? AND device = ?", arguments: [gateway, device])
                .map { DeviceStateRecord(state: $0["state"], message: $0["message"], countersJSON: $0["counters"]) }
        }
    }
}

/// The name earlier code and tests use for the SQLite storage.
public typealias ReadingStore = SQLiteStorage
