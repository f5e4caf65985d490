import GRDB
import SerialBridgeProtocol

extension SQLiteStorage {
    public func insert(_ readings: [Reading], receivedAt: Int64) async throws -> [Reading] {
        guard !readings.isEmpty else { return [] }
        return try await readingWrites.write(ReadingBatch(readings: readings, receivedAt: receivedAt))
    }

    static func insert(_ batch: ReadingBatch, _ db: Database) throws -> [Reading] {
        try insert(batch.readings, receivedAt: batch.receivedAt, db)
    }

    /// One batch in the caller's transaction: the readings, then one device upsert per device and one
    /// rollup upsert per value and cell, then the gateways' last-seen times.
    private static func insert(_ readings: [Reading], receivedAt: Int64, _ db: Database) throws -> [Reading] {
        let insert = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO readings (gateway, epoch, seq, device, profile, ts, received, vals, out_of_range)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var marks: [String: ReadingID?] = [:]
        var inserted: [Reading] = []
        var latest: [DeviceKey: (reading: Reading, values: String, count: Int64)] = [:]
        var minutes = RollupAccumulator(resolution: .minute)
        var hours = RollupAccumulator(resolution: .hour)
        for reading in readings {
            // Retention may have deleted this reading after storing it: its identity is then at or
            // below the gateway's pruned mark, and it must not be stored (or rolled up) twice.
            let mark = try marks[reading.gateway] ?? prunedMark(reading.gateway, db)
            marks[reading.gateway] = mark
            if let mark, reading.id <= mark { continue }
            let values = ReadingJSON.values(reading.values)
            try SQLiteStatementBinder(insert).execute(db) { bind in
                bind.text(1, reading.gateway)
                bind.integer(2, reading.id.epoch)
                bind.integer(3, reading.id.sequence)
                bind.text(4, reading.device)
                bind.text(5, reading.profile)
                bind.integer(6, reading.timestamp)
                bind.integer(7, receivedAt)
                bind.text(8, values)
                bind.text(9, ReadingJSON.names(reading.outOfRange))
            }
            guard db.changesCount > 0 else { continue }
            let key = DeviceKey(gateway: reading.gateway, device: reading.device)
            latest[key] = (reading, values, (latest[key]?.count ?? 0) + 1)
            minutes.add(reading)
            hours.add(reading)
            inserted.append(reading)
        }
        guard !inserted.isEmpty else { return [] }
        let device = try db.cachedStatement(sql: """
            INSERT INTO devices (gateway, device, profile, last_ts, last_vals, units, readings, last_out_of_range)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (gateway, device) DO UPDATE SET
                profile = excluded.profile, last_ts = excluded.last_ts, last_vals = excluded.last_vals,
                units = excluded.units, readings = readings + excluded.readings, last_out_of_range = excluded.last_out_of_range
            """)
        for (key, last) in latest {
            try device.execute(arguments: [
                key.gateway, key.device, last.reading.profile, last.reading.timestamp, last.values,
                ReadingJSON.units(last.reading.values), last.count, ReadingJSON.names(last.reading.outOfRange),
            ])
        }
        try upsert(minutes, db)
        try upsert(hours, db)
        let seen = try db.cachedStatement(sql: "UPDATE gateways SET seen = max(seen, ?) WHERE gateway = ?")
        for gateway in marks.keys { try seen.execute(arguments: [receivedAt, gateway]) }
        return inserted
    }

    private static func upsert(_ rollup: RollupAccumulator, _ db: Database) throws {
        let table = SQLiteSchema.rollupTable(rollup.resolution)
        let statement = try db.cachedStatement(sql: """
            INSERT INTO \(table) (gateway, device, bucket, name, min, max, sum, count, first_ts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (gateway, device, bucket, name) DO UPDATE SET
                min = min(\(table).min, excluded.min), max = max(\(table).max, excluded.max),
                sum = \(table).sum + excluded.sum, count = \(table).count + excluded.count,
                first_ts = min(\(table).first_ts, excluded.first_ts)
            """)
        for (key, cell) in rollup.cells {
            try statement.execute(arguments: [
                key.gateway, key.device, key.bucket, key.name, cell.min, cell.max, cell.sum, cell.count, cell.firstTimestamp,
            ])
        }
    }

    static func prunedMark(_ gateway: String, _ db: Database) throws -> ReadingID? {
        let statement = try db.cachedStatement(sql: "SELECT epoch, seq FROM pruned_marks WHERE gateway = ?")
        return try Row.fetchOne(statement, arguments: [gateway]).map { ReadingID(epoch: $0["epoch"], sequence: $0["seq"]) }
    }

    public func readings(gateway: String, device: String, limit: Int) async throws -> [StoredReading] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT epoch, seq, ts, vals, out_of_range FROM readings WHERE gateway = ? AND device = ?
                ORDER BY epoch DESC, seq DESC LIMIT ?
                """, arguments: [gateway, device, limit]).reversed().map(Self.reading)
        }
    }

    public func readings(gateway: String, device: String, from: Int64, to: Int64, limit: Int) async throws -> [StoredReading] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT epoch, seq, ts, vals, out_of_range FROM readings
                WHERE gateway = ? AND device = ? AND ts >= ? AND ts <= ?
                ORDER BY ts DESC, epoch DESC, seq DESC LIMIT ?
                """, arguments: [gateway, device, from, to, limit]).reversed().map(Self.reading)
        }
    }

    private static func reading(_ row: Row) -> StoredReading {
        StoredReading(
            id: ReadingID(epoch: row["epoch"], sequence: row["seq"]), timestamp: row["ts"],
            valuesJSON: row["vals"], outOfRangeJSON: row["out_of_range"]
        )
    }

    public func countReadings(gateway: String, device: String, from: Int64, to: Int64, atMost: Int) async throws -> Int {
        try await pool.read { db in
            // The inner LIMIT keeps the count's cost bounded by `atMost`, however long the range.
            try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM (SELECT 1 FROM readings WHERE gateway = ? AND device = ? AND ts >= ? AND ts <= ? LIMIT ?)
                """, arguments: [gateway, device, from, to, atMost]) ?? 0
        }
    }

    public func history(
        gateway: String, device: String, from: Int64, to: Int64, step: Int64, resolution: RollupResolution
    ) async throws -> [HistoryBucket] {
        let table = SQLiteSchema.rollupTable(resolution)
        let start = RollupAccumulator.floor(from, step)
        return try await pool.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT (bucket - ?) / ? * ? + ? AS slot, name, MIN(min) AS min, MAX(max) AS max, SUM(sum) AS sum,
                       SUM(count) AS count, MIN(first_ts) AS first_ts
                FROM \(table) WHERE gateway = ? AND device = ? AND bucket >= ? AND bucket <= ?
                GROUP BY slot, name ORDER BY slot, name
                """, arguments: [start, step, step, start, gateway, device, start, to])
            var buckets: [HistoryBucket] = []
            while let row = try rows.next() {
                let slot: Int64 = row["slot"]
                let cell = RollupCell(min: row["min"], max: row["max"], sum: row["sum"], count: row["count"], firstTimestamp: row["first_ts"])
                if buckets.last?.timestamp == slot {
                    buckets[buckets.count - 1].values.append((row["name"], cell))
                } else {
                    buckets.append(HistoryBucket(timestamp: slot, values: [(row["name"], cell)]))
                }
            }
            return buckets
        }
    }
}

/// A device's identity across gateways.
struct DeviceKey: Hashable {
    var gateway: String
    var device: String
}
