import Logging
import PostgresNIO
import SerialBridgeProtocol

extension PostgresStorage {
    /// An advisory lock held by the instance that prunes, so that two instances never prune at once
    /// ("SBprun"); the other skips its turn.
    static let pruneLock: Int64 = 0x5342_7072_756E

    /// Deletes what is older than `cutoffs`. Raw readings go mostly by dropping whole day partitions;
    /// the rest (the partition the cutoff falls in, the DEFAULT partition, events, commands, rollup
    /// cells) goes in transactions of at most `batchSize` rows. Also makes the coming days' partitions.
    ///
    /// Before anything is deleted, the raw cutoff becomes every gateway's `horizon` (in a transaction
    /// that waits for every reading write in flight): readings older than it are no longer stored,
    /// so a resent reading that retention deleted stays out, and no write can land in a partition
    /// being dropped, so its device totals are counted exactly.
    public func prune(_ cutoffs: RetentionCutoffs, batchSize: Int) async throws -> PruneReport {
        let batch = Int64(max(1, batchSize))
        let logger = self.logger
        let partitions = self.partitions
        let ahead = partitions.aheadDays(now: now())
        return try await client.withConnection { connection in
            try await partitions.ensure(days: ahead, on: connection, logger: logger)
            let locked = try await connection.query("SELECT pg_try_advisory_lock(\(Self.pruneLock))", logger: logger).decode(Bool.self)
            var acquired = false
            for try await value in locked { acquired = value }
            guard acquired else {
                logger.info("retention: another instance is pruning; skipping this turn")
                return PruneReport()
            }
            do {
                let report = try await Self.prune(cutoffs, batch: batch, partitions: partitions, connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.pruneLock))", logger: logger)
                return report
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.pruneLock))", logger: logger)
                throw error
            }
        }
    }

    private static func prune(
        _ cutoffs: RetentionCutoffs, batch: Int64, partitions: PostgresPartitions, _ connection: PostgresConnection, logger: Logger
    ) async throws -> PruneReport {
        var report = PruneReport()
        let devices = try await deviceKeys(connection, logger: logger)
        if let cutoff = cutoffs.raw {
            try await raiseHorizon(to: cutoff, connection, logger: logger)
            partitions.raiseHorizon(to: cutoff)
            for partition in try await PostgresPartitions.attached(connection, logger: logger)
            where partition.start + PostgresPartitions.day <= cutoff {
                report.readings += try await drop(partition.name, connection, logger: logger)
                partitions.forget(dayStart: partition.start)
            }
            for device in devices {
                report.readings += try await repeatBatches(batch, connection, logger: logger) { connection in
                    try await deleteReadings(device, before: cutoff, limit: batch, connection, logger: logger)
                }
            }
            report.events += try await repeatBatches(batch, connection, logger: logger) { connection in
                try await deleteDeviceEvents(before: cutoff, limit: batch, connection, logger: logger)
            }
            report.events += try await repeatBatches(batch, connection, logger: logger) { connection in
                try await count(connection.query("""
                    DELETE FROM gateway_events WHERE id IN (SELECT id FROM gateway_events WHERE ts < \(cutoff) ORDER BY ts LIMIT \(batch))
                    RETURNING 1
                    """, logger: logger))
            }
            report.commands += try await repeatBatches(batch, connection, logger: logger) { connection in
                try await count(connection.query("""
                    DELETE FROM commands WHERE id IN (SELECT id FROM commands WHERE requested < \(cutoff) ORDER BY requested LIMIT \(batch))
                    RETURNING 1
                    """, logger: logger))
            }
        }
        for resolution in RollupResolution.allCases {
            guard let cutoff = resolution == .minute ? cutoffs.minuteRollups : cutoffs.hourRollups else { continue }
            let table = PostgresSchema.rollupTable(resolution)
            for device in devices {
                // Per device, so that each batch walks the primary key's range.
                let deleted = try await repeatBatches(batch, connection, logger: logger) { connection in
                    try await count(connection.query("""
                        DELETE FROM \(unescaped: table) WHERE (gateway, device, bucket, name) IN (
                            SELECT gateway, device, bucket, name FROM \(unescaped: table)
                            WHERE gateway = \(device.gateway) AND device = \(device.device) AND bucket < \(cutoff) ORDER BY bucket LIMIT \(batch)
                        ) RETURNING 1
                        """, logger: logger))
                }
                if resolution == .minute { report.minuteCells += deleted } else { report.hourCells += deleted }
            }
        }
        return report
    }

    private static func deviceKeys(_ connection: PostgresConnection, logger: Logger) async throws -> [DeviceKey] {
        var keys: [DeviceKey] = []
        let rows = try await connection.query("SELECT gateway, device FROM devices ORDER BY gateway, device", logger: logger)
        for try await (gateway, device) in rows.decode((String, String).self) { keys.append(DeviceKey(gateway: gateway, device: device)) }
        return keys
    }

    /// Makes `cutoff` the horizon of every gateway (and of gateways still to come). The table lock
    /// waits for every transaction that wrote marks (all reading and event writes do, first thing)
    /// and holds new ones back for the moment of the update.
    private static func raiseHorizon(to cutoff: Int64, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("LOCK TABLE gateway_marks IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            try await connection.query(
                "UPDATE retention_state SET raw_cutoff = GREATEST(COALESCE(raw_cutoff, \(cutoff)), \(cutoff))", logger: logger
            )
            try await connection.query(
                "UPDATE gateway_marks SET horizon = \(cutoff) WHERE horizon IS NULL OR horizon < \(cutoff)", logger: logger
            )
        }
    }

    /// Drops one day partition wholly older than the horizon and subtracts its readings from the
    /// device totals; returns how many readings went.
    private static func drop(_ partition: String, _ connection: PostgresConnection, logger: Logger) async throws -> Int {
        // Counted before the drop and outside its lock: past the horizon nothing is written here any more.
        var gateways: [String] = [], devices: [String] = [], counts: [Int64] = []
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT gateway, device, count(*) FROM \(partition) GROUP BY gateway, device ORDER BY gateway, device"),
            logger: logger
        )
        for try await (gateway, device, count) in rows.decode((String, String, Int64).self) {
            gateways.append(gateway)
            devices.append(device)
            counts.append(count)
        }
        try await connection.withTransaction(logger: logger) { connection in
            // The drop first: it waits for the writes in flight, and takes no row lock they could wait for.
            try await connection.query("SET LOCAL lock_timeout = '60s'", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE \(partition)"), logger: logger)
            try await subtract(gateways, devices, counts, connection, logger: logger)
        }
        logger.info("retention: dropped partition \(partition) (\(counts.reduce(0, +)) readings)")
        return Int(counts.reduce(0, +))
    }

    private static func subtract(
        _ gateways: [String], _ devices: [String], _ counts: [Int64], _ connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !gateways.isEmpty else { return }
        try await connection.query("""
            UPDATE devices AS d SET readings = GREATEST(0, d.readings - x.n)
            FROM unnest(\(gateways)::text[], \(devices)::text[], \(counts)::int8[]) AS x(g, dv, n)
            WHERE d.gateway = x.g AND d.device = x.dv
            """, logger: logger)
    }

    /// One batch of a device's readings before `cutoff` (the partition the cutoff falls in, and the
    /// DEFAULT partition), with its device total.
    private static func deleteReadings(
        _ device: DeviceKey, before cutoff: Int64, limit: Int64, _ connection: PostgresConnection, logger: Logger
    ) async throws -> Int {
        let rows = try await connection.query("""
            DELETE FROM readings WHERE (gateway, epoch, seq, ts) IN (
                SELECT gateway, epoch, seq, ts FROM readings
                WHERE gateway = \(device.gateway) AND device = \(device.device) AND ts < \(cutoff) ORDER BY ts LIMIT \(limit)
            ) RETURNING 1
            """, logger: logger)
        let deleted = try await count(rows)
        if deleted > 0 { try await subtract([device.gateway], [device.device], [Int64(deleted)], connection, logger: logger) }
        return deleted
    }

    /// One batch of device events before `cutoff`; raises each gateway's pruned mark past them so
    /// that a resent event stays out.
    private static func deleteDeviceEvents(before cutoff: Int64, limit: Int64, _ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query("""
            DELETE FROM device_events WHERE (gateway, epoch, seq) IN (
                SELECT gateway, epoch, seq FROM device_events WHERE ts < \(cutoff) ORDER BY ts LIMIT \(limit)
            ) RETURNING gateway, epoch, seq
            """, logger: logger)
        var newest: [String: ReadingID] = [:]
        var deleted = 0
        for try await (gateway, epoch, sequence) in rows.decode((String, Int64, Int64).self) {
            let id = ReadingID(epoch: epoch, sequence: sequence)
            newest[gateway] = max(newest[gateway] ?? id, id)
            deleted += 1
        }
        let gateways = newest.keys.sorted()
        guard !gateways.isEmpty else { return deleted }
        let ids = gateways.compactMap { newest[$0] }
        try await connection.query("""
            INSERT INTO gateway_marks AS m (gateway, pruned_epoch, pruned_seq)
            SELECT * FROM unnest(\(gateways)::text[], \(ids.map(\.epoch))::int8[], \(ids.map(\.sequence))::int8[])
            ON CONFLICT (gateway) DO UPDATE SET pruned_epoch = excluded.pruned_epoch, pruned_seq = excluded.pruned_seq
            WHERE m.pruned_epoch IS NULL OR (excluded.pruned_epoch, excluded.pruned_seq) > (m.pruned_epoch, m.pruned_seq)
            """, logger: logger)
        return deleted
    }

    /// Runs `step` in its own transaction until it deletes fewer than `batch` rows; returns the total.
    private static func repeatBatches(
        _ batch: Int64, _ connection: PostgresConnection, logger: Logger,
        _ step: (PostgresConnection) async throws -> Int
    ) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await connection.withTransaction(logger: logger) { connection in try await step(connection) }
            total += deleted
            if deleted < batch { return total }
        }
    }

    private static func count(_ rows: PostgresRowSequence) async throws -> Int {
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }
}
