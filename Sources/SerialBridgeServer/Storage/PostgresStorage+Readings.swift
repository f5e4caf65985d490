import PostgresNIO
import SerialBridgeProtocol

extension PostgresStorage {
    public func insert(_ readings: [Reading], receivedAt: Int64) async throws -> [Reading] {
        guard !readings.isEmpty else { return [] }
        return try await readingWrites.write(ReadingBatch(readings: readings, receivedAt: receivedAt))
    }

    public func readings(gateway: String, device: String, limit: Int) async throws -> [StoredReading] {
        try await storedReadings(client.query("""
            SELECT epoch, seq, ts, vals, out_of_range FROM readings WHERE gateway = \(gateway) AND device = \(device)
            ORDER BY epoch DESC, seq DESC LIMIT \(Int64(limit))
            """, logger: logger)).reversed()
    }

    public func readings(gateway: String, device: String, from: Int64, to: Int64, limit: Int) async throws -> [StoredReading] {
        try await storedReadings(client.query("""
            SELECT epoch, seq, ts, vals, out_of_range FROM readings
            WHERE gateway = \(gateway) AND device = \(device) AND ts >= \(from) AND ts <= \(to)
            ORDER BY ts DESC, epoch DESC, seq DESC LIMIT \(Int64(limit))
            """, logger: logger)).reversed()
    }

    private func storedReadings(_ rows: PostgresRowSequence) async throws -> [StoredReading] {
        var readings: [StoredReading] = []
        for try await (epoch, sequence, timestamp, values, outOfRange) in rows.decode((Int64, Int64, Int64, String, String?).self) {
            readings.append(StoredReading(
                id: ReadingID(epoch: epoch, sequence: sequence), timestamp: timestamp, valuesJSON: values, outOfRangeJSON: outOfRange
            ))
        }
        return readings
    }

    public func countReadings(gateway: String, device: String, from: Int64, to: Int64, atMost: Int) async throws -> Int {
        // The inner LIMIT keeps the count's cost bounded by `atMost`, however long the range.
        let rows = try await client.query("""
            SELECT count(*) FROM (
                SELECT 1 FROM readings WHERE gateway = \(gateway) AND device = \(device) AND ts >= \(from) AND ts <= \(to)
                LIMIT \(Int64(atMost))
            ) AS bounded
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    public func history(
        gateway: String, device: String, from: Int64, to: Int64, step: Int64, resolution: RollupResolution
    ) async throws -> [HistoryBucket] {
        let table = PostgresSchema.rollupTable(resolution)
        let start = RollupAccumulator.floor(from, step)
        // Integer division truncates toward zero like SQLite's; buckets are never before `start`.
        let rows = try await client.query("""
            SELECT (bucket - \(start)) / \(step) * \(step) + \(start) AS slot, name, min(min), max(max), sum(sum),
                   sum(count)::int8, min(first_ts)
            FROM \(unescaped: table) WHERE gateway = \(gateway) AND device = \(device) AND bucket >= \(start) AND bucket <= \(to)
            GROUP BY slot, name ORDER BY slot, name COLLATE "C"
            """, logger: logger)
        var buckets: [HistoryBucket] = []
        let decoded = rows.decode((Int64, String, Double, Double, Double, Int64, Int64).self)
        for try await (slot, name, min, max, sum, count, first) in decoded {
            let cell = RollupCell(min: min, max: max, sum: sum, count: count, firstTimestamp: first)
            if buckets.last?.timestamp == slot {
                buckets[buckets.count - 1].values.append((name, cell))
            } else {
                buckets.append(HistoryBucket(timestamp: slot, values: [(name, cell)]))
            }
        }
        return buckets
    }
}
