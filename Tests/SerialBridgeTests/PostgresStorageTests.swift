import Foundation
import Logging
import SerialBridgeJSON
import SerialBridgeProtocol
import SerialBridgeSerial
@testable import SerialBridgeServer
import Testing

private func reading(_ sequence: Int64, at timestamp: Int64, gateway: String = "gw-1", device: String = "d") -> Reading {
    Reading(
        gateway: gateway, id: ReadingID(epoch: 1, sequence: sequence), device: device, profile: "p", timestamp: timestamp,
        values: [NamedValue(name: "t", value: .float(Double(sequence)), unit: "°C")]
    )
}

/// A storage on `url`, migrated and running until `close()`.
private func running(_ url: String, now: @escaping @Sendable () -> Int64 = Timestamp.nowMilliseconds) async throws -> (PostgresStorage, Task<Void, Never>) {
    let storage = PostgresStorage(url: try PostgresURL(url), logger: Logger(label: "pg"), now: now)
    try await storage.migrate()
    return (storage, Task { await storage.run() })
}

@Suite("PostgreSQL storage: migrations, partitions, dedupe across instances", .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresStorageTests {
    @Test func migrationsAreAppliedOnceEvenWhenTwoInstancesStartAtOnce() async throws {
        let url = try await PostgresTestCluster.newDatabase()
        let logger = Logger(label: "pg")
        let first = PostgresStorage(url: try PostgresURL(url), logger: logger)
        let second = PostgresStorage(url: try PostgresURL(url), logger: logger)
        // Both at once: the advisory lock lets one migrate while the other waits, then finds it done.
        async let one: Void = first.migrate()
        async let two: Void = second.migrate()
        _ = try await (one, two)
        // And again later: nothing to do.
        try await PostgresStorage(url: try PostgresURL(url), logger: logger).migrate()
        // Each migration recorded once, none missing (whatever their number: later ones add to it).
        #expect(try await psql(url, "SELECT count(*) = count(DISTINCT version) AND count(*) = max(version) AND count(*) >= 2 FROM schema_migrations") == "t")
        #expect(try await psql(url, "SELECT count(*) FROM pg_class WHERE relname = 'readings_default'") == "1")
    }

    @Test func retentionDropsWholeDayPartitionsAndTheComingDaysHaveTheirs() async throws {
        let url = try await PostgresTestCluster.newDatabase()
        let now = Timestamp.nowMilliseconds()
        let day = RetentionPolicy.day
        let (store, task) = try await running(url, now: { now })
        defer { task.cancel() }
        // Four readings five days ago, three three days ago, two now: three day partitions made on demand.
        var readings: [Reading] = []
        for (index, age) in [5, 5, 5, 5, 3, 3, 3, 0, 0].enumerated() {
            readings.append(reading(Int64(index + 1), at: now - Int64(age) * day + Int64(index)))
        }
        #expect(try await store.insert(readings, receivedAt: now).count == 9)
        let partitionDay = { (age: Int64) in PostgresPartitions.name(dayStart: PostgresPartitions.dayStart(now - age * day)) }
        let attached = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass AND inhrelid::regclass::text = "
        #expect(try await psql(url, attached + "'\(partitionDay(5))'") == "1")
        #expect(try await psql(url, attached + "'\(partitionDay(3))'") == "1")
        #expect(try await psql(url, attached + "'\(partitionDay(-2))'") == "1", "made ahead")
        #expect(try await psql(url, "SELECT count(*) FROM readings_default") == "0")
        let markBefore = try await store.lastStored(gateway: "gw-1")

        let report = try await store.prune(RetentionCutoffs(raw: now - 2 * day, minuteRollups: nil, hourRollups: nil), batchSize: 2)
        #expect(report.readings == 7)
        #expect(try await psql(url, "SELECT count(*) FROM pg_class WHERE relname IN ('\(partitionDay(5))', '\(partitionDay(3))')") == "0")
        #expect(try await store.readings(gateway: "gw-1", device: "d", limit: 100).map(\.id.sequence) == [8, 9])
        #expect(try await store.device(gateway: "gw-1", device: "d")?.readingCount == 2)
        // A dropped reading sent again stays out (and gets no partition again); the acknowledgement
        // mark does not go back.
        #expect(try await store.insert([readings[0]], receivedAt: now).isEmpty)
        #expect(try await psql(url, "SELECT count(*) FROM pg_class WHERE relname = '\(partitionDay(5))'") == "0")
        #expect(try await store.lastStored(gateway: "gw-1") == markBefore)
        // Rollups were not asked to go.
        #expect(try await store.history(gateway: "gw-1", device: "d", from: 0, to: now, step: 3_600_000, resolution: .hour).count >= 3)
        #expect(try await store.prune(RetentionCutoffs(raw: now - 2 * day, minuteRollups: nil, hourRollups: nil), batchSize: 2).total == 0)
    }

    @Test func aTimestampNoDayPartitionCoversIsStoredInTheDefaultPartition() async throws {
        let url = try await PostgresTestCluster.newDatabase()
        let (store, task) = try await running(url)
        defer { task.cancel() }
        // 1970, before 1970, and 2100: a gateway with a wrong clock.
        let odd = [reading(1, at: 0), reading(2, at: -5), reading(3, at: 4_102_444_800_000)]
        #expect(try await store.insert(odd, receivedAt: 1).count == 3)
        #expect(try await psql(url, "SELECT count(*) FROM readings_default") == "3")
        #expect(try await store.readings(gateway: "gw-1", device: "d", limit: 10).map(\.timestamp) == [0, -5, 4_102_444_800_000])
        #expect(try await store.insert(odd, receivedAt: 2).isEmpty)
        // Once a day partition exists for such a timestamp, its rows move there from the default.
        let today = PostgresPartitions.dayStart(Timestamp.nowMilliseconds())
        #expect(try await store.insert([reading(4, at: today + 1)], receivedAt: 3).count == 1)
        #expect(try await psql(url, "SELECT count(*) FROM \(PostgresPartitions.name(dayStart: today))") == "1")
    }

    @Test func twoInstancesStoringTheSameReadingsConcurrentlyStoreEachOnce() async throws {
        let url = try await PostgresTestCluster.newDatabase()
        let (first, firstTask) = try await running(url)
        let (second, secondTask) = try await running(url)
        defer {
            firstTask.cancel()
            secondTask.cancel()
        }
        let now = Timestamp.nowMilliseconds()
        // Three gateways, 600 readings each, sent in batches of 20 to both instances at once (a
        // gateway that reconnected to the other instance and resends), in opposite orders.
        let gateways = ["gw-a", "gw-b", "gw-c"]
        let batches: [[Reading]] = gateways.flatMap { gateway in
            stride(from: 1, through: 600, by: 20).map { (start: Int) -> [Reading] in
                (start..<start + 20).map { (sequence: Int) -> Reading in
                    reading(Int64(sequence), at: now - 600_000 + Int64(sequence) * 1_000, gateway: gateway)
                }
            }
        }
        let orders: [(PostgresStorage, [[Reading]])] = [(first, batches), (second, batches.reversed())]
        let stored = try await withThrowingTaskGroup(of: [Reading].self) { group in
            for (storage, order) in orders {
                group.addTask {
                    try await withThrowingTaskGroup(of: [Reading].self) { inner in
                        for batch in order { inner.addTask { try await storage.insert(batch, receivedAt: now) } }
                        return try await inner.reduce(into: []) { $0 += $1 }
                    }
                }
            }
            return try await group.reduce(into: [Reading]()) { $0 += $1 }
        }
        #expect(stored.count == 1_800)
        #expect(Set(stored.map { "\($0.gateway)/\($0.id.sequence)" }).count == 1_800)
        #expect(try await psql(url, "SELECT count(*) FROM readings") == "1800")
        for gateway in gateways {
            #expect(try await first.device(gateway: gateway, device: "d")?.readingCount == 600)
            #expect(try await second.lastStored(gateway: gateway) == ReadingID(epoch: 1, sequence: 600))
            let hours = try await second.history(gateway: gateway, device: "d", from: 0, to: now + 3_600_000, step: 86_400_000, resolution: .hour)
            #expect(hours.flatMap(\.values).map(\.cell.count).reduce(0, +) == 600)
        }
    }

    @Test func aBadURLOrAnUnreachableDatabaseIsRefusedWithTheReason() async throws {
        #expect(throws: PostgresURLError.self) { try ServerDatabase(parsing: "postgres://127.0.0.1/db") }
        #expect(throws: PostgresURLError.self) { try ServerDatabase(parsing: "postgres://u@host:99999/db") }
        #expect(throws: PostgresURLError.self) { try ServerDatabase(parsing: "postgres://u:secret@host/db?sslmod=x") }
        do {
            _ = try ServerDatabase(parsing: "postgres://u:secret@host/db?sslmod=x")
        } catch {
            #expect(!error.description.contains("secret"))
        }
        let port = freePort()
        let nobody = PostgresStorage(url: try PostgresURL("postgres://u@127.0.0.1:\(port)/db?sslmode=disable"), logger: Logger(label: "pg"))
        do {
            try await nobody.migrate()
            Issue.record("migrated a database that is not there")
        } catch let error as PostgresStorageError {
            #expect(error.description.hasPrefix("cannot connect to PostgreSQL at postgres://u@127.0.0.1:\(port)/db: "))
        }
        // A database that does not exist on a running server: the server's own words.
        let cluster = try await PostgresTestCluster.running()
        let missing = PostgresStorage(url: try PostgresURL(cluster.url(database: "sb_no_such_db")), logger: Logger(label: "pg"))
        do {
            try await missing.migrate()
            Issue.record("migrated a database that does not exist")
        } catch let error as PostgresStorageError {
            #expect(error.description.contains("sb_no_such_db\" does not exist"))
        }
    }
}

@Suite("PostgreSQL storage parts: URLs and partition names")
struct PostgresPartsTests {
    @Test func urlsAreTakenApartWithDefaultsAndEscapes() throws {
        let url = try PostgresURL("postgres://sb%40x:p%40ss@db.example.org/serialbridge")
        #expect(url.user == "sb@x" && url.password == "p@ss" && url.host == "db.example.org" && url.port == 5432)
        #expect(url.database == "serialbridge" && url.tls == .prefer)
        #expect(url.description == "postgres://sb@x:***@db.example.org:5432/serialbridge")
        let local = try PostgresURL("postgresql://me@[::1]:6543/db?sslmode=disable")
        #expect(local.host == "::1" && local.port == 6543 && local.tls == .disable && local.password == nil)
        #expect(try PostgresURL("postgres://me@h/db?sslmode=verify-full").tls == .require)
        #expect(try ServerDatabase(parsing: "data/server.sqlite") == .sqlite(path: "data/server.sqlite"))
        for bad in ["postgres://h/db", "postgres://me@h", "postgres://me@/db", "mysql://me@h/db", "postgres://me@h:0/db", "postgres://me@h/db?x=1"] {
            #expect(throws: PostgresURLError.self, "\(bad)") { try PostgresURL(bad) }
        }
    }

    @Test func dayPartitionsAreNamedByTheirUTCDateAndBack() {
        #expect(PostgresPartitions.name(dayStart: 0) == "readings_p19700101")
        let leap = PostgresPartitions.daysFromCivil(year: 2024, month: 2, day: 29) * PostgresPartitions.day
        #expect(PostgresPartitions.name(dayStart: leap) == "readings_p20240229")
        #expect(PostgresPartitions.dayStart(name: "readings_p20240229") == leap)
        #expect(PostgresPartitions.dayStart(leap + 86_399_999) == leap)
        #expect(PostgresPartitions.dayStart(-1) == -86_400_000)
        #expect(PostgresPartitions.dayStart(name: "readings_default") == nil)
        #expect(PostgresPartitions.dayStart(name: "readings_p20241301") == nil)
        let partitions = PostgresPartitions()
        let now = leap + 5_000
        #expect(partitions.missingDays(for: [now, now + 1, 0, now + 30 * PostgresPartitions.day], now: now) == [leap])
    }
}
