import ArgumentParser
import GRDB
import SerialBridgeJSON
import SerialBridgeProtocol
import SerialBridgeServer

/// `serialbridge-bench server-store`: readings/s into the server's SQLite storage in batches (one
/// transaction per batch, as the ingest writes a gateway message), with and without what the
/// time-range API needs (the `ts` index, per-minute and hourly rollups), and the cost of queries.
struct ServerStoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server-store",
        abstract: "Readings/s of the server's SQLite inserts (before and after rollups), and history query times."
    )

    @Option(help: "Folder for the databases (emptied first).")
    var directory = "/tmp/serialbridge-bench-server-store"

    @Option(help: "Readings inserted per run.")
    var readings = 200_000

    @Option(help: "Readings per batch (one transaction each).")
    var batch = 1_000

    @Option(help: "Devices the readings are spread over (one reading per device per second).")
    var devices = 64

    func run() async throws {
        _ = Posix.run("rm -rf '\(directory)' && mkdir -p '\(directory)'")
        let all = (0..<readings).map { index in
            let device = index % devices
            let second = Int64(index / devices)
            return Reading(
                gateway: "gw-bench", id: ReadingID(epoch: 1, sequence: Int64(index + 1)), device: "greenhouse-\(10 + device)",
                profile: "generic-csv-lines", timestamp: 1_795_753_200_000 + second * 1_000,
                values: [
                    NamedValue(name: "temperature", value: .float(18 + Double(index % 97) / 10), unit: "°C"),
                    NamedValue(name: "humidity", value: .float(40 + Double(index % 53) / 10), unit: "%"),
                ]
            )
        }
        let batches = stride(from: 0, to: all.count, by: batch).map { Array(all[$0..<min($0 + batch, all.count)]) }
        say("\(readings) readings of \(devices) devices (2 values each), \(batch) per transaction, WAL synchronous=NORMAL")

        let baseline = try BaselineStore(path: directory + "/baseline.sqlite")
        var start = ContinuousClock.now
        var cpu = cpuTime()
        for readings in batches { try await baseline.insert(readings, receivedAt: 0) }
        report("before: readings + device upserts (previous ReadingStore)", ContinuousClock.now - start, cpu: cpuTime() - cpu)

        let storage = try SQLiteStorage(path: directory + "/storage.sqlite")
        start = ContinuousClock.now
        cpu = cpuTime()
        for readings in batches { _ = try await storage.insert(readings, receivedAt: 0) }
        report("after: SQLiteStorage (ts index, minute + hour rollups)", ContinuousClock.now - start, cpu: cpuTime() - cpu)

        start = ContinuousClock.now
        cpu = cpuTime()
        for readings in batches.prefix(20) { _ = try await storage.insert(readings, receivedAt: 0) }
        let resent = min(20, batches.count) * batch
        say("  resent duplicates:".padding(62) + " \(Int(Double(resent) / max((ContinuousClock.now - start).seconds, 1e-9)).formatted(10)) readings/s")

        // A month of one device, a reading every 10 s: what a chart of the last 30 days reads.
        let month = try SQLiteStorage(path: directory + "/month.sqlite")
        let begin: Int64 = 1_795_753_200_000
        let count = 30 * 8_640
        for offset in stride(from: 0, to: count, by: batch) {
            let readings = (offset..<min(offset + batch, count)).map { (index: Int) -> Reading in
                let temperature = 18 + Double(index % 97) / 10
                let humidity = 40 + Double(index % 53) / 10
                return Reading(
                    gateway: "gw-bench", id: ReadingID(epoch: 1, sequence: Int64(index + 1)), device: "climate", profile: "generic-csv-lines",
                    timestamp: begin + Int64(index) * 10_000,
                    values: [
                        NamedValue(name: "temperature", value: .float(temperature), unit: "°C"),
                        NamedValue(name: "humidity", value: .float(humidity), unit: "%"),
                    ]
                )
            }
            _ = try await month.insert(readings, receivedAt: 0)
        }
        let end = begin + Int64(count) * 10_000
        say("history of one device over 30 days (\(count) readings, 2 values), mean of 10 queries:")
        func time(_ what: String, _ run: () async throws -> Int) async throws {
            var rows = 0
            let start = ContinuousClock.now
            for _ in 0..<10 { rows = try await run() }
            let micros = ((ContinuousClock.now - start) / 10).seconds * 1e6
            say("  \(what)".padding(62) + " \(Int(micros).formatted(10)) µs  (\(rows) rows or buckets)")
        }
        try await time("newest 1,000 readings (?limit=1000)") {
            try await month.readings(gateway: "gw-bench", device: "climate", limit: 1_000).count
        }
        try await time("last hour raw (?from=…, 360 readings)") {
            try await month.readings(gateway: "gw-bench", device: "climate", from: end - 3_600_000, to: end, limit: 1_000).count
        }
        try await time("bounded count of 30 days (the raw-or-buckets test)") {
            try await month.countReadings(gateway: "gw-bench", device: "climate", from: begin, to: end, atMost: 1_001)
        }
        try await time("30 days raw, newest 10,000 (what a raw chart would read)") {
            try await month.readings(gateway: "gw-bench", device: "climate", from: begin, to: end, limit: 10_000).count
        }
        try await time("30 days in 1-hour buckets from minute cells") {
            try await month.history(gateway: "gw-bench", device: "climate", from: begin, to: end, step: 3_600_000, resolution: .minute).count
        }
        try await time("30 days in 1-hour buckets from hour cells (points=1000)") {
            try await month.history(gateway: "gw-bench", device: "climate", from: begin, to: end, step: 3_600_000, resolution: .hour).count
        }
        try await time("last 24 h in 2-minute buckets (points=1000)") {
            try await month.history(gateway: "gw-bench", device: "climate", from: end - 86_400_000, to: end, step: 120_000, resolution: .minute).count
        }
    }

    private func report(_ what: String, _ elapsed: Duration, cpu: UInt64) {
        let rate = Int(Double(readings) / max(elapsed.seconds, 1e-9))
        let cpuRate = Int(Double(readings) / max(Double(cpu) / 1e9, 1e-9))
        say("\(what.padding(62)) \(rate.formatted(10)) readings/s  (\(elapsed.formatted); \(cpuRate.formatted(10)) per CPU-second)")
    }
}

/// The server's storage as it was before time ranges and rollups (schema and insert of the
/// previous `ReadingStore`), kept here only as the benchmark's baseline.
private final class BaselineStore: Sendable {
    let pool: DatabasePool

    init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE readings (
                    gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, device TEXT NOT NULL,
                    profile TEXT NOT NULL, ts INTEGER NOT NULL, received INTEGER NOT NULL, vals TEXT NOT NULL, out_of_range TEXT,
                    PRIMARY KEY (gateway, epoch, seq)
                ) WITHOUT ROWID;
                CREATE INDEX readings_by_device ON readings (gateway, device, epoch, seq);
                CREATE TABLE devices (
                    gateway TEXT NOT NULL, device TEXT NOT NULL, profile TEXT NOT NULL, last_ts INTEGER NOT NULL,
                    last_vals TEXT NOT NULL, units TEXT NOT NULL, readings INTEGER NOT NULL, last_out_of_range TEXT,
                    PRIMARY KEY (gateway, device)
                ) WITHOUT ROWID;
                """)
        }
    }

    func insert(_ readings: [Reading], receivedAt: Int64) async throws {
        try await pool.write { db in
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
                let values = Self.json(reading.values) { writer, named in MessageCodec.writeValue(named.value, into: &writer) }
                try insert.execute(arguments: [
                    reading.gateway, reading.id.epoch, reading.id.sequence, reading.device, reading.profile,
                    reading.timestamp, receivedAt, values, nil,
                ])
                guard db.changesCount > 0 else { continue }
                let units = Self.json(reading.values.filter { $0.unit != nil }) { writer, named in writer.string(named.unit ?? "") }
                try upsert.execute(arguments: [reading.gateway, reading.device, reading.profile, reading.timestamp, values, units, nil])
            }
        }
    }

    private static func json(_ values: [NamedValue], _ write: (inout JSONWriter, NamedValue) -> Void) -> String {
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        for named in values {
            writer.key(named.name)
            write(&writer, named)
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
