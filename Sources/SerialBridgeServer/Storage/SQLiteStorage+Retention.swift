import GRDB
import SerialBridgeProtocol

extension SQLiteStorage {
    public func prune(_ cutoffs: RetentionCutoffs, batchSize: Int) async throws -> PruneReport {
        let batch = max(1, batchSize)
        var report = PruneReport()
        let devices = try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT gateway, device FROM devices ORDER BY gateway, device")
                .map { DeviceKey(gateway: $0["gateway"], device: $0["device"]) }
        }
        // Per device, so that every batch walks an index range (readings_by_time, the rollups' keys).
        for device in devices {
            if let cutoff = cutoffs.raw {
                report.readings += try await repeatBatches(batch) { try Self.pruneReadings(device, before: cutoff, limit: batch, $0) }
            }
            for resolution in RollupResolution.allCases {
                guard let cutoff = resolution == .minute ? cutoffs.minuteRollups : cutoffs.hourRollups else { continue }
                let deleted = try await repeatBatches(batch) { try Self.pruneCells(resolution, device, before: cutoff, limit: batch, $0) }
                if resolution == .minute { report.minuteCells += deleted } else { report.hourCells += deleted }
            }
        }
        if let cutoff = cutoffs.raw {
            report.events += try await repeatBatches(batch) { try Self.pruneDeviceEvents(before: cutoff, limit: batch, $0) }
            report.events += try await repeatBatches(batch) { db in
                try db.execute(sql: """
                    DELETE FROM gateway_events WHERE id IN (SELECT id FROM gateway_events WHERE ts < ? ORDER BY ts LIMIT ?)
                    """, arguments: [cutoff, batch])
                return db.changesCount
            }
            report.commands += try await repeatBatches(batch) { db in
                try db.execute(sql: """
                    DELETE FROM commands WHERE id IN (SELECT id FROM commands WHERE requested < ? ORDER BY requested LIMIT ?)
                    """, arguments: [cutoff, batch])
                return db.changesCount
            }
        }
        return report
    }

    /// Runs `step` in its own write transaction until it deletes fewer than `batch` rows; returns the
    /// total. Other writers (ingest) get the lock between two batches.
    private func repeatBatches(_ batch: Int, _ step: @escaping @Sendable (Database) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await pool.write(step)
            total += deleted
            if deleted < batch { return total }
            await Task.yield()
        }
    }

    private static func pruneReadings(_ device: DeviceKey, before cutoff: Int64, limit: Int, _ db: Database) throws -> Int {
        let ids = try Row.fetchAll(db, sql: """
            SELECT epoch, seq FROM readings WHERE gateway = ? AND device = ? AND ts < ? ORDER BY ts LIMIT ?
            """, arguments: [device.gateway, device.device, cutoff, limit]).map { ReadingID(epoch: $0["epoch"], sequence: $0["seq"]) }
        guard let newest = ids.max() else { return 0 }
        let delete = try db.cachedStatement(sql: "DELETE FROM readings WHERE gateway = ? AND epoch = ? AND seq = ?")
        for id in ids { try delete.execute(arguments: [device.gateway, id.epoch, id.sequence]) }
        try db.execute(
            sql: "UPDATE devices SET readings = max(0, readings - ?) WHERE gateway = ? AND device = ?",
            arguments: [ids.count, device.gateway, device.device]
        )
        try raiseMark(device.gateway, to: newest, db)
        return ids.count
    }

    private static func pruneDeviceEvents(before cutoff: Int64, limit: Int, _ db: Database) throws -> Int {
        let rows = try Row.fetchAll(db, sql: """
            SELECT gateway, epoch, seq FROM device_events WHERE ts < ? ORDER BY ts LIMIT ?
            """, arguments: [cutoff, limit])
        var newest: [String: ReadingID] = [:]
        let delete = try db.cachedStatement(sql: "DELETE FROM device_events WHERE gateway = ? AND epoch = ? AND seq = ?")
        for row in rows {
            let gateway: String = row["gateway"]
            let id = ReadingID(epoch: row["epoch"], sequence: row["seq"])
            try delete.execute(arguments: [gateway, id.epoch, id.sequence])
            newest[gateway] = max(newest[gateway] ?? id, id)
        }
        for (gateway, id) in newest { try raiseMark(gateway, to: id, db) }
        return rows.count
    }

    private static func pruneCells(_ resolution: RollupResolution, _ device: DeviceKey, before cutoff: Int64, limit: Int, _ db: Database) throws -> Int {
        let table = SQLiteSchema.rollupTable(resolution)
        try db.execute(sql: """
            DELETE FROM \(table) WHERE (gateway, device, bucket, name) IN (
                SELECT gateway, device, bucket, name FROM \(table) WHERE gateway = ? AND device = ? AND bucket < ? ORDER BY bucket LIMIT ?
            )
            """, arguments: [device.gateway, device.device, cutoff, limit])
        return db.changesCount
    }

    /// Remembers that identities up to `id` of `gateway` were stored (and are now deleted).
    private static func raiseMark(_ gateway: String, to id: ReadingID, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO pruned_marks (gateway, epoch, seq) VALUES (?, ?, ?)
            ON CONFLICT (gateway) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq
            WHERE (excluded.epoch, excluded.seq) > (pruned_marks.epoch, pruned_marks.seq)
            """, arguments: [gateway, id.epoch, id.sequence])
    }
}
