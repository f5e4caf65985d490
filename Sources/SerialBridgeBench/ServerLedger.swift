import GRDB

/// What the server stored, read straight from its SQLite file (read-only, a fresh connection per
/// question, so a server killed and restarted in between changes nothing for the reader).
struct ServerLedger: Sendable {
    /// A stored reading of a ``CountingDevice``: its identity and the line's two numbers.
    struct CountedReading: Sendable, Equatable {
        let epoch: Int64
        let sequence: Int64
        /// The line number N (the profile's `temperature`).
        let number: Int
        /// The line's check value (`humidity`).
        let check: Int
    }

    let path: String
    let gateway: String

    private func read<T>(_ body: (Database) throws -> T) throws(FaultFailure) -> T {
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(5)
            return try DatabaseQueue(path: path, configuration: configuration).read(body)
        } catch {
            throw FaultFailure("cannot read the server's database \(path): \(error)")
        }
    }

    /// Every identity (readings and device events) stored for the gateway, by epoch, ascending.
    func identities() throws(FaultFailure) -> [Int64: [Int64]] {
        let rows = try read { db in
            try Row.fetchAll(db, sql: """
                SELECT epoch, seq FROM readings WHERE gateway = ?1
                UNION ALL SELECT epoch, seq FROM device_events WHERE gateway = ?1
                ORDER BY epoch, seq
                """, arguments: [gateway])
        }
        var result: [Int64: [Int64]] = [:]
        for row in rows { result[row["epoch"] as Int64, default: []].append(row["seq"]) }
        return result
    }

    /// Readings stored for `device`.
    func readingCount(device: String) throws(FaultFailure) -> Int {
        try read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM readings WHERE gateway = ? AND device = ?", arguments: [gateway, device]) ?? 0
        }
    }

    /// The readings of a counting device in identity order.
    func countedReadings(device: String) throws(FaultFailure) -> [CountedReading] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT epoch, seq, CAST(json_extract(vals, '$.temperature') AS INTEGER) AS n,
                       CAST(json_extract(vals, '$.humidity') AS INTEGER) AS c
                FROM readings WHERE gateway = ? AND device = ? ORDER BY epoch, seq
                """, arguments: [gateway, device]).map { row in
                CountedReading(epoch: row["epoch"], sequence: row["seq"], number: row["n"] ?? -1, check: row["c"] ?? -1)
            }
        }
    }

    /// The line number of a counting device's newest reading (nil: none yet).
    func newestLine(device: String) throws(FaultFailure) -> Int? {
        try read { db in
            try Int.fetchOne(db, sql: """
                SELECT CAST(json_extract(vals, '$.temperature') AS INTEGER) FROM readings
                WHERE gateway = ? AND device = ? ORDER BY epoch DESC, seq DESC LIMIT 1
                """, arguments: [gateway, device])
        }
    }

    /// Device events of `device` by kind (`attached`, `detached`, `error`).
    func eventCounts(device: String) throws(FaultFailure) -> [String: Int] {
        let rows = try read { db in
            try Row.fetchAll(db, sql: "SELECT event, COUNT(*) AS n FROM device_events WHERE gateway = ? AND device = ? GROUP BY event",
                             arguments: [gateway, device])
        }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["event"] as String, $0["n"] as Int) })
    }

    /// The spool's dropped count the gateway reported in its last `hello` (nil: none reported).
    func reportedDropped() throws(FaultFailure) -> Int? {
        try read { db in
            try Int.fetchOne(db, sql: "SELECT dropped FROM gateways WHERE gateway = ?", arguments: [gateway])
        }
    }
}
