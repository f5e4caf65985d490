import Logging
import PostgresNIO
import SerialBridgeProtocol

/// Writes groups of reading batches to PostgreSQL: the group commit of ``PostgresStorage``.
///
/// One transaction per group, in three round trips whatever its size (plus one when a batch
/// resends readings): lock the gateways' mark rows, probe for resent readings, then one statement
/// that inserts the readings (arrays through `unnest`), upserts the device totals and the minute
/// and hour rollup cells, and raises the marks. Acknowledgements follow the commit.
///
/// Dedupe by (gateway, epoch, seq) cannot be a unique index on the partitioned `readings` (such an
/// index must contain the partition key `ts`). Instead each gateway has a row in `gateway_marks`,
/// locked (`INSERT … ON CONFLICT DO UPDATE`, in gateway order) by every transaction that stores its
/// readings, so writers of one gateway, on any instance, take turns. Under that lock a reading is:
/// - dropped when older than the gateway's retention `horizon` or not newer than its `pruned` mark
///   (retention deleted it, or would at once);
/// - new without a lookup when newer than the high-water mark (`epoch`, `seq`): the usual case,
///   a gateway sends in order;
/// - otherwise looked up by identity (the `readings_identity` index of every partition).
/// The unique index on (gateway, epoch, seq, ts) stays as the database's backstop: a resend carries
/// its original timestamp, so a duplicate that slipped past the logic would fail the transaction.
struct PostgresReadingWriter: Sendable {
    let client: PostgresClient
    let partitions: PostgresPartitions
    let logger: Logger
    let now: @Sendable () -> Int64

    /// Writes `batches` in one transaction (each in its own when that fails, so that one bad batch
    /// fails alone) and returns each batch's new readings, in order.
    func commit(_ batches: [ReadingBatch]) async throws -> [Result<[Reading], any Error>] {
        let logger = self.logger
        let partitions = self.partitions
        let days = partitions.missingDays(for: batches.lazy.flatMap { $0.readings.lazy.map(\.timestamp) }, now: now())
        if !days.isEmpty {
            try await client.withConnection { connection in
                try await partitions.ensure(days: days, on: connection, logger: logger)
            }
        }
        do {
            let stored = try await client.withTransaction(logger: logger) { connection in
                try await Self.write(batches, connection, logger: logger)
            }
            return stored.map { .success($0) }
        } catch where batches.count > 1 {
            var outcomes: [Result<[Reading], any Error>] = []
            for batch in batches {
                do {
                    let stored = try await client.withTransaction(logger: logger) { connection in
                        try await Self.write([batch], connection, logger: logger)
                    }
                    outcomes.append(.success(stored.first ?? []))
                } catch {
                    outcomes.append(.failure(error))
                }
            }
            return outcomes
        }
    }

    /// A gateway's marks, read under its row lock.
    struct Marks {
        var stored: ReadingID?
        var pruned: ReadingID?
        var horizon: Int64?
    }

    struct Identity: Hashable {
        var gateway: String
        var id: ReadingID
    }

    /// One group in the caller's transaction.
    static func write(_ batches: [ReadingBatch], _ connection: PostgresConnection, logger: Logger) async throws -> [[Reading]] {
        let gateways = Set(batches.lazy.flatMap { $0.readings.lazy.map(\.gateway) }).sorted()
        guard !gateways.isEmpty else { return batches.map { _ in [] } }
        let marks = try await lockMarks(gateways, connection, logger: logger)

        // Decide per reading, in arrival order; `toCheck` are those at or below the high-water mark.
        var candidates: [(batch: Int, reading: Reading)] = []
        var seen = Set<Identity>()
        var toCheck: [Identity] = []
        for (index, batch) in batches.enumerated() {
            for reading in batch.readings {
                let mark = marks[reading.gateway] ?? Marks()
                if let horizon = mark.horizon, reading.timestamp < horizon { continue }
                if let pruned = mark.pruned, reading.id <= pruned { continue }
                let identity = Identity(gateway: reading.gateway, id: reading.id)
                guard seen.insert(identity).inserted else { continue }
                candidates.append((index, reading))
                if let stored = mark.stored, reading.id <= stored { toCheck.append(identity) }
            }
        }
        if !toCheck.isEmpty {
            let present = try await existing(toCheck, connection, logger: logger)
            candidates.removeAll { present.contains(Identity(gateway: $0.reading.gateway, id: $0.reading.id)) }
        }
        guard !candidates.isEmpty else { return batches.map { _ in [] } }
        try await store(candidates.map { ($0.reading, batches[$0.batch].receivedAt) }, connection, logger: logger)
        var stored = batches.map { _ in [Reading]() }
        for candidate in candidates { stored[candidate.batch].append(candidate.reading) }
        return stored
    }

    /// Creates (if new) and locks each gateway's mark row, in name order so that two transactions
    /// never wait for each other in a circle; returns the marks.
    private static func lockMarks(_ gateways: [String], _ connection: PostgresConnection, logger: Logger) async throws -> [String: Marks] {
        let rows = try await connection.query("""
            INSERT INTO gateway_marks AS m (gateway, horizon)
            SELECT g, (SELECT raw_cutoff FROM retention_state) FROM unnest(\(gateways)::text[]) AS g ORDER BY g COLLATE "C"
            ON CONFLICT (gateway) DO UPDATE SET gateway = excluded.gateway
            RETURNING gateway, epoch, seq, pruned_epoch, pruned_seq, horizon
            """, logger: logger)
        var marks: [String: Marks] = [:]
        let decoded = rows.decode((String, Int64?, Int64?, Int64?, Int64?, Int64?).self)
        for try await (gateway, epoch, sequence, prunedEpoch, prunedSequence, horizon) in decoded {
            marks[gateway] = Marks(
                stored: identity(epoch, sequence), pruned: identity(prunedEpoch, prunedSequence), horizon: horizon
            )
        }
        return marks
    }

    static func identity(_ epoch: Int64?, _ sequence: Int64?) -> ReadingID? {
        guard let epoch, let sequence else { return nil }
        return ReadingID(epoch: epoch, sequence: sequence)
    }

    /// Which of `identities` are stored already.
    private static func existing(_ identities: [Identity], _ connection: PostgresConnection, logger: Logger) async throws -> Set<Identity> {
        let rows = try await connection.query("""
            SELECT r.gateway, r.epoch, r.seq FROM readings r
            JOIN unnest(\(identities.map(\.gateway))::text[], \(identities.map(\.id.epoch))::int8[], \(identities.map(\.id.sequence))::int8[])
                AS p(gateway, epoch, seq)
            ON r.gateway = p.gateway AND r.epoch = p.epoch AND r.seq = p.seq
            """, logger: logger)
        var found = Set<Identity>()
        for try await (gateway, epoch, sequence) in rows.decode((String, Int64, Int64).self) {
            found.insert(Identity(gateway: gateway, id: ReadingID(epoch: epoch, sequence: sequence)))
        }
        return found
    }

    /// Inserts the new readings, and in the same statement upserts device totals and rollup cells
    /// and raises the marks and last-seen times.
    private static func store(_ readings: [(reading: Reading, receivedAt: Int64)], _ connection: PostgresConnection, logger: Logger) async throws {
        var rows = ReadingColumns()
        var latest: [DeviceKey: (reading: Reading, values: String, count: Int64)] = [:]
        var newest: [String: (id: ReadingID, receivedAt: Int64)] = [:]
        var minutes = RollupAccumulator(resolution: .minute)
        var hours = RollupAccumulator(resolution: .hour)
        for (reading, receivedAt) in readings {
            let values = ReadingJSON.values(reading.values)
            rows.append(reading, values: values, receivedAt: receivedAt)
            let key = DeviceKey(gateway: reading.gateway, device: reading.device)
            latest[key] = (reading, values, (latest[key]?.count ?? 0) + 1)
            let previous = newest[reading.gateway]
            newest[reading.gateway] = (max(previous?.id ?? reading.id, reading.id), max(previous?.receivedAt ?? receivedAt, receivedAt))
            minutes.add(reading)
            hours.add(reading)
        }
        var devices = DeviceColumns()
        for (key, last) in latest.sorted(by: { ($0.key.gateway, $0.key.device) < ($1.key.gateway, $1.key.device) }) {
            devices.append(key, last.reading, values: last.values, count: last.count)
        }
        let minuteCells = RollupColumns(minutes)
        let hourCells = RollupColumns(hours)
        let gateways = newest.keys.sorted()
        let marks = gateways.compactMap { newest[$0] }
        try await connection.query("""
            WITH new_readings AS (
                INSERT INTO readings (gateway, epoch, seq, device, profile, ts, received, vals, out_of_range)
                SELECT g, e, s, d, p, t, r, v, NULLIF(o, '')
                FROM unnest(\(rows.gateway)::text[], \(rows.epoch)::int8[], \(rows.sequence)::int8[], \(rows.device)::text[],
                            \(rows.profile)::text[], \(rows.timestamp)::int8[], \(rows.received)::int8[], \(rows.values)::text[],
                            \(rows.outOfRange)::text[]) AS x(g, e, s, d, p, t, r, v, o)
            ), device_totals AS (
                INSERT INTO devices AS dv (gateway, device, profile, last_ts, last_vals, units, readings, last_out_of_range)
                SELECT g, d, p, t, v, u, n, NULLIF(o, '')
                FROM unnest(\(devices.gateway)::text[], \(devices.device)::text[], \(devices.profile)::text[], \(devices.timestamp)::int8[],
                            \(devices.values)::text[], \(devices.units)::text[], \(devices.count)::int8[], \(devices.outOfRange)::text[])
                    AS x(g, d, p, t, v, u, n, o)
                ON CONFLICT (gateway, device) DO UPDATE SET
                    profile = excluded.profile, last_ts = excluded.last_ts, last_vals = excluded.last_vals, units = excluded.units,
                    readings = dv.readings + excluded.readings, last_out_of_range = excluded.last_out_of_range
            ), minute_cells AS (
                \(unescaped: RollupColumns.upsert(.minute))
                FROM unnest(\(minuteCells.gateway)::text[], \(minuteCells.device)::text[], \(minuteCells.bucket)::int8[],
                            \(minuteCells.name)::text[], \(minuteCells.min)::float8[], \(minuteCells.max)::float8[],
                            \(minuteCells.sum)::float8[], \(minuteCells.count)::int8[], \(minuteCells.first)::int8[])
                    AS x(g, d, b, n, lo, hi, su, c, f)
                \(unescaped: RollupColumns.conflict(.minute))
            ), hour_cells AS (
                \(unescaped: RollupColumns.upsert(.hour))
                FROM unnest(\(hourCells.gateway)::text[], \(hourCells.device)::text[], \(hourCells.bucket)::int8[],
                            \(hourCells.name)::text[], \(hourCells.min)::float8[], \(hourCells.max)::float8[],
                            \(hourCells.sum)::float8[], \(hourCells.count)::int8[], \(hourCells.first)::int8[])
                    AS x(g, d, b, n, lo, hi, su, c, f)
                \(unescaped: RollupColumns.conflict(.hour))
            ), raised AS (
                UPDATE gateway_marks AS m SET epoch = x.e, seq = x.s
                FROM unnest(\(gateways)::text[], \(marks.map(\.id.epoch))::int8[], \(marks.map(\.id.sequence))::int8[]) AS x(g, e, s)
                WHERE m.gateway = x.g AND (m.epoch IS NULL OR (x.e, x.s) > (m.epoch, m.seq))
            )
            UPDATE gateways AS gw SET seen = GREATEST(gw.seen, x.r)
            FROM unnest(\(gateways)::text[], \(marks.map(\.receivedAt))::int8[]) AS x(g, r)
            WHERE gw.gateway = x.g
            """, logger: logger)
    }
}

/// Reading columns as arrays, for `unnest`.
private struct ReadingColumns {
    var gateway: [String] = [], epoch: [Int64] = [], sequence: [Int64] = [], device: [String] = [], profile: [String] = []
    var timestamp: [Int64] = [], received: [Int64] = [], values: [String] = [], outOfRange: [String] = []

    mutating func append(_ reading: Reading, values json: String, receivedAt: Int64) {
        gateway.append(reading.gateway)
        epoch.append(reading.id.epoch)
        sequence.append(reading.id.sequence)
        device.append(reading.device)
        profile.append(reading.profile)
        timestamp.append(reading.timestamp)
        received.append(receivedAt)
        values.append(json)
        // Arrays cannot hold NULL here: "" stands for none (a names array is never empty text).
        outOfRange.append(ReadingJSON.names(reading.outOfRange) ?? "")
    }
}

/// Device totals as arrays, for `unnest`.
private struct DeviceColumns {
    var gateway: [String] = [], device: [String] = [], profile: [String] = [], timestamp: [Int64] = []
    var values: [String] = [], units: [String] = [], count: [Int64] = [], outOfRange: [String] = []

    mutating func append(_ key: DeviceKey, _ reading: Reading, values json: String, count readings: Int64) {
        gateway.append(key.gateway)
        device.append(key.device)
        profile.append(reading.profile)
        timestamp.append(reading.timestamp)
        values.append(json)
        units.append(ReadingJSON.units(reading.values))
        count.append(readings)
        outOfRange.append(ReadingJSON.names(reading.outOfRange) ?? "")
    }
}

/// Rollup cells as arrays, for `unnest`, sorted by key so that concurrent upserts lock in one order.
private struct RollupColumns {
    var gateway: [String] = [], device: [String] = [], bucket: [Int64] = [], name: [String] = []
    var min: [Double] = [], max: [Double] = [], sum: [Double] = [], count: [Int64] = [], first: [Int64] = []

    init(_ accumulator: RollupAccumulator) {
        let cells = accumulator.cells.sorted { lhs, rhs in
            (lhs.key.gateway, lhs.key.device, lhs.key.bucket, lhs.key.name) < (rhs.key.gateway, rhs.key.device, rhs.key.bucket, rhs.key.name)
        }
        for (key, cell) in cells {
            gateway.append(key.gateway)
            device.append(key.device)
            bucket.append(key.bucket)
            name.append(key.name)
            min.append(cell.min)
            max.append(cell.max)
            sum.append(cell.sum)
            count.append(cell.count)
            first.append(cell.firstTimestamp)
        }
    }

    static func upsert(_ resolution: RollupResolution) -> String {
        "INSERT INTO \(PostgresSchema.rollupTable(resolution)) AS rc (gateway, device, bucket, name, min, max, sum, count, first_ts) SELECT g, d, b, n, lo, hi, su, c, f"
    }

    static func conflict(_ resolution: RollupResolution) -> String {
        """
        ON CONFLICT (gateway, device, bucket, name) DO UPDATE SET
            min = LEAST(rc.min, excluded.min), max = GREATEST(rc.max, excluded.max), sum = rc.sum + excluded.sum,
            count = rc.count + excluded.count, first_ts = LEAST(rc.first_ts, excluded.first_ts)
        """
    }
}
