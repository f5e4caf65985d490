import SerialBridgeJSON
import GRDB
import SerialBridgeProtocol

/// A device as the API lists it.
public struct DeviceSummary: Sendable, Hashable {
    /// API id: `GATEWAY:DEVICE`.
    public var id: String
    /// Gateway id.
    public var gateway: String
    /// Device id within the gateway.
    public var device: String
    /// Profile of its latest reading.
    public var profile: String
    /// Its latest reading's timestamp (ms).
    public var lastTimestamp: Int64
    /// Its latest values, as a JSON object.
    public var lastValuesJSON: String
    /// Units, as a JSON object.
    public var unitsJSON: String
    /// Readings stored.
    public var readingCount: Int64
    /// Names of the latest values outside their valid range, as a JSON array; nil when none.
    public var lastOutOfRangeJSON: String?
    /// Latest session state reported by the gateway (`attached`, `detached`, `error`), if any.
    public var state: String?
    /// The message of the latest state, e.g. why the port could not be opened.
    public var stateMessage: String?
}

/// A stored reading as the API returns it.
public struct StoredReading: Sendable, Hashable {
    /// Identity within the gateway.
    public var id: ReadingID
    /// Timestamp (ms).
    public var timestamp: Int64
    /// Values, as a JSON object.
    public var valuesJSON: String
    /// Names of values outside their valid range, as a JSON array; nil when none.
    public var outOfRangeJSON: String?
}

/// Readings in SQLite (WAL), stored once per (gateway, epoch, sequence).
public final class ReadingStore: Sendable {
    private let pool: DatabasePool

    /// Opens (creating if needed) the database at `path`.
    public init(path: String) throws {
        var configuration = Configuration()
        // Another connection to the file (a second server process, or tools) may hold the write
        // lock for a moment: wait for it rather than fail the gateway's batch.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL: a commit survives a process crash; the last few may
            // be lost on power loss, which the gateway's resend covers (it keeps unacked readings).
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS readings (
                    gateway TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    device TEXT NOT NULL,
                    profile TEXT NOT NULL,
                    ts INTEGER NOT NULL,
                    received INTEGER NOT NULL,
                    vals TEXT NOT NULL,
                    PRIMARY KEY (gateway, epoch, seq)
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS readings_by_device ON readings (gateway, device, epoch, seq);
                CREATE TABLE IF NOT EXISTS devices (
                    gateway TEXT NOT NULL,
                    device TEXT NOT NULL,
                    profile TEXT NOT NULL,
                    last_ts INTEGER NOT NULL,
                    last_vals TEXT NOT NULL,
                    units TEXT NOT NULL,
                    readings INTEGER NOT NULL,
                    PRIMARY KEY (gateway, device)
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS device_events (
                    gateway TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    device TEXT NOT NULL,
                    event TEXT NOT NULL,
                    profile TEXT NOT NULL,
                    path TEXT NOT NULL,
                    ts INTEGER NOT NULL,
                    received INTEGER NOT NULL,
                    message TEXT,
                    counters TEXT NOT NULL,
                    PRIMARY KEY (gateway, epoch, seq)
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS gateways (
                    gateway TEXT NOT NULL PRIMARY KEY,
                    software TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    dropped INTEGER,
                    seen INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS device_state (
                    gateway TEXT NOT NULL,
                    device TEXT NOT NULL,
                    state TEXT NOT NULL,
                    ts INTEGER NOT NULL,
                    message TEXT,
                    counters TEXT NOT NULL,
                    PRIMARY KEY (gateway, device)
                ) WITHOUT ROWID;
                """)
            // Added after the first release of the schema: databases made before it get the column.
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(readings)").map { $0["name"] as String }
            if !columns.contains("out_of_range") {
                try db.execute(sql: "ALTER TABLE readings ADD COLUMN out_of_range TEXT")
            }
            let deviceColumns = try Row.fetchAll(db, sql: "PRAGMA table_info(devices)").map { $0["name"] as String }
            if !deviceColumns.contains("last_out_of_range") {
                try db.execute(sql: "ALTER TABLE devices ADD COLUMN last_out_of_range TEXT")
            }
        }
    }

    /// Stores readings in one transaction, skipping any already stored. Returns the new ones.
    public func insert(_ readings: [Reading], receivedAt: Int64) async throws -> [Reading] {
        try await pool.write { db in
            var inserted: [Reading] = []
            let insert = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO readings (gateway, epoch, seq, device, profile, ts, received, vals, out_of_range)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO devices (gateway, device, profile, last_ts, last_vals, units, readings, last_out_of_range)
                VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                ON CONFLICT (gateway, device) DO UPDATE SET
                    profile = excluded.profile, last_ts = excluded.last_ts, last_vals = excluded.last_vals,
                    units = excluded.units, readings = readings + 1, last_out_of_range = excluded.last_out_of_range
                """)
            for reading in readings {
                let values = ReadingJSON.values(reading.values)
                try insert.execute(arguments: [
                    reading.gateway, reading.id.epoch, reading.id.sequence, reading.device, reading.profile,
                    reading.timestamp, receivedAt, values, ReadingJSON.names(reading.outOfRange),
                ])
                guard db.changesCount > 0 else { continue }
                try upsert.execute(arguments: [
                    reading.gateway, reading.device, reading.profile, reading.timestamp, values,
                    ReadingJSON.units(reading.values), ReadingJSON.names(reading.outOfRange),
                ])
                inserted.append(reading)
            }
            return inserted
        }
    }

    /// Stores a device event once; true when it was new. The device's current state follows the
    /// newest event by identity, so a resent old event never overrides a newer one.
    public func insert(_ event: DeviceStateChange, receivedAt: Int64) async throws -> Bool {
        try await pool.write { db in
            var counters = JSONWriter(capacity: 128)
            counters.beginObject()
            for (name, value) in event.counters {
                counters.key(name)
                counters.integer(value)
            }
            counters.endObject()
            let countersJSON = String(decoding: counters.bytes, as: UTF8.self)
            try db.execute(sql: """
                INSERT OR IGNORE INTO device_events (gateway, epoch, seq, device, event, profile, path, ts, received, message, counters)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    event.gateway, event.id.epoch, event.id.sequence, event.device, event.kind.rawValue, event.profile,
                    event.path, event.timestamp, receivedAt, event.message, countersJSON,
                ])
            guard db.changesCount > 0 else { return false }
            let newest = try Row.fetchOne(db, sql: """
                SELECT epoch, seq FROM device_events WHERE gateway = ? AND device = ? ORDER BY epoch DESC, seq DESC LIMIT 1
                """, arguments: [event.gateway, event.device])
            if let newest, newest["epoch"] == event.id.epoch, newest["seq"] == event.id.sequence {
                try db.execute(sql: """
                    INSERT INTO device_state (gateway, device, state, ts, message, counters) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (gateway, device) DO UPDATE SET
                        state = excluded.state, ts = excluded.ts, message = excluded.message, counters = excluded.counters
                    """, arguments: [event.gateway, event.device, event.kind.rawValue, event.timestamp, event.message, countersJSON])
            }
            return true
        }
    }

    /// Keeps what a gateway's `hello` says about it: software, epoch, and how many frames its
    /// spool has dropped (nil when it does not report it). Returns the dropped count stored
    /// before, so a rise can be logged.
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

    /// What the gateway's last `hello` said: software, epoch and the spool's dropped count.
    public func gatewayStatus(gateway: String) async throws -> (software: String, epoch: Int64, dropped: Int64?)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT software, epoch, dropped FROM gateways WHERE gateway = ?", arguments: [gateway])
                .map { ($0["software"], $0["epoch"], $0["dropped"]) }
        }
    }

    /// A device's latest state: `attached`, `detached` or `error`, with its message and counters.
    public func deviceState(gateway: String, device: String) async throws -> (state: String, message: String?, countersJSON: String)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT state, message, counters FROM device_state WHERE gateway = ? AND device = ?", arguments: [gateway, device])
                .map { ($0["state"], $0["message"], $0["counters"]) }
        }
    }

    /// The newest identity stored for `gateway`, readings and device events alike.
    public func lastStored(gateway: String) async throws -> ReadingID? {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT epoch, seq FROM (
                    SELECT epoch, seq FROM readings WHERE gateway = ?
                    UNION ALL
                    SELECT epoch, seq FROM device_events WHERE gateway = ?
                ) ORDER BY epoch DESC, seq DESC LIMIT 1
                """, arguments: [gateway, gateway])
            return row.map { ReadingID(epoch: $0["epoch"], sequence: $0["seq"]) }
        }
    }

    /// Every device, by gateway then device id.
    public func devices() async throws -> [DeviceSummary] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT devices.*, device_state.state AS state, device_state.message AS state_message
                FROM devices LEFT JOIN device_state USING (gateway, device)
                ORDER BY gateway, device
                """).map { row in
                let gateway: String = row["gateway"]
                let device: String = row["device"]
                return DeviceSummary(
                    id: "\(gateway):\(device)", gateway: gateway, device: device, profile: row["profile"],
                    lastTimestamp: row["last_ts"], lastValuesJSON: row["last_vals"], unitsJSON: row["units"],
                    readingCount: row["readings"], lastOutOfRangeJSON: row["last_out_of_range"],
                    state: row["state"], stateMessage: row["state_message"]
                )
            }
        }
    }

    /// The newest `limit` readings of a device, oldest first.
    public func readings(gateway: String, device: String, limit: Int) async throws -> [StoredReading] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT epoch, seq, ts, vals, out_of_range FROM readings WHERE gateway = ? AND device = ?
                ORDER BY epoch DESC, seq DESC LIMIT ?
                """, arguments: [gateway, device, limit])
            return rows.reversed().map { row in
                StoredReading(
                    id: ReadingID(epoch: row["epoch"], sequence: row["seq"]), timestamp: row["ts"],
                    valuesJSON: row["vals"], outOfRangeJSON: row["out_of_range"]
                )
            }
        }
    }
}

/// JSON renderings of reading parts, shared by storage, API and live feed.
enum ReadingJSON {
    /// A JSON array of names, or nil for none.
    static func names(_ names: [String]) -> String? {
        guard !names.isEmpty else { return nil }
        var writer = JSONWriter(capacity: 32)
        writer.beginArray()
        for name in names { writer.string(name) }
        writer.endArray()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func values(_ values: [NamedValue]) -> String {
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        for named in values {
            writer.key(named.name)
            MessageCodec.writeValue(named.value, into: &writer)
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func units(_ values: [NamedValue]) -> String {
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        for named in values {
            if let unit = named.unit {
                writer.key(named.name)
                writer.string(unit)
            }
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
