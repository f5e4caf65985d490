import GRDB
import Logging
import SerialBridgeProtocol
import SerialBridgeServer
import Testing

/// Readings for the storage tests: gateway `gw-1`, epoch 1, sequence as given.
private func reading(_ sequence: Int64, device: String = "d", at timestamp: Int64, _ values: [NamedValue]) -> Reading {
    Reading(gateway: "gw-1", id: ReadingID(epoch: 1, sequence: sequence), device: device, profile: "p", timestamp: timestamp, values: values)
}

private func temperature(_ value: Double) -> [NamedValue] {
    [NamedValue(name: "t", value: .float(value), unit: "°C"), NamedValue(name: "mode", value: .string("auto"))]
}

/// A time on an hour boundary, so that minute and hour cells are easy to name.
private let hour: Int64 = 1_700_002_800_000

@Suite("Storage: rollups, time ranges, events, commands, retention (SQLite and PostgreSQL)")
struct StorageHistoryTests {
    @Test(arguments: StorageBackend.available)
    func numericValuesRollUpPerMinuteAndHourWithKnownMinMaxMean(_ backend: StorageBackend) async throws {
        let dir = try TemporaryDirectory()
        let opened = try await backend.open(in: dir)
        defer { opened.close() }
        let store = opened.storage
        // Minute 0: 1, 3, 5 (and an integer value); minute 1: 10, 20 — in two batches, so cells merge.
        _ = try await store.insert([
            reading(1, at: hour, temperature(1) + [NamedValue(name: "n", value: .integer(7))]),
            reading(2, at: hour + 20_000, temperature(3)),
        ], receivedAt: 0)
        _ = try await store.insert([
            reading(3, at: hour + 40_000, temperature(5)),
            reading(4, at: hour + 60_000, temperature(10)),
            reading(5, at: hour + 119_999, temperature(20)),
        ], receivedAt: 0)
        // A resent reading changes nothing.
        #expect(try await store.insert([reading(5, at: hour + 119_999, temperature(20))], receivedAt: 0).isEmpty)

        let minutes = try await store.history(gateway: "gw-1", device: "d", from: hour, to: hour + 3_600_000, step: 60_000, resolution: .minute)
        #expect(minutes.map(\.timestamp) == [hour, hour + 60_000])
        #expect(minutes[0].values.map(\.name) == ["n", "t"])
        #expect(minutes[0].values[1].cell == RollupCell(min: 1, max: 5, sum: 9, count: 3, firstTimestamp: hour))
        #expect(minutes[0].values[0].cell == RollupCell(min: 7, max: 7, sum: 7, count: 1, firstTimestamp: hour))
        #expect(minutes[1].values.map(\.name) == ["t"])
        #expect(minutes[1].values[0].cell == RollupCell(min: 10, max: 20, sum: 30, count: 2, firstTimestamp: hour + 60_000))
        #expect(minutes[1].values[0].cell.mean == 15)

        // Two-minute buckets merge the minute cells; the hour cell holds everything.
        let pairs = try await store.history(gateway: "gw-1", device: "d", from: hour, to: hour + 3_600_000, step: 120_000, resolution: .minute)
        #expect(pairs.count == 1)
        #expect(pairs.first?.values.last?.cell == RollupCell(min: 1, max: 20, sum: 39, count: 5, firstTimestamp: hour))
        let hours = try await store.history(gateway: "gw-1", device: "d", from: hour, to: hour + 3_600_000, step: 3_600_000, resolution: .hour)
        #expect(hours.map(\.timestamp) == [hour])
        #expect(hours.first?.values.last?.cell.mean == 7.8)
        // A range that starts inside a bucket still gets the whole (aligned) bucket.
        let late = try await store.history(gateway: "gw-1", device: "d", from: hour + 90_000, to: hour + 100_000, step: 60_000, resolution: .minute)
        #expect(late.map(\.timestamp) == [hour + 60_000])
    }

    @Test(arguments: StorageBackend.available)
    func aTimeRangeReturnsRawReadingsByTimestampAndCountsWithABound(_ backend: StorageBackend) async throws {
        let dir = try TemporaryDirectory()
        let opened = try await backend.open(in: dir)
        defer { opened.close() }
        let store = opened.storage
        _ = try await store.insert((1...10).map { reading(Int64($0), at: hour + Int64($0) * 1_000, temperature(Double($0))) }, receivedAt: 0)
        let middle = try await store.readings(gateway: "gw-1", device: "d", from: hour + 3_000, to: hour + 6_000, limit: 100)
        #expect(middle.map(\.id.sequence) == [3, 4, 5, 6])
        let newest = try await store.readings(gateway: "gw-1", device: "d", from: hour, to: hour + 60_000, limit: 2)
        #expect(newest.map(\.id.sequence) == [9, 10])
        #expect(try await store.countReadings(gateway: "gw-1", device: "d", from: hour, to: hour + 60_000, atMost: 4) == 4)
        #expect(try await store.countReadings(gateway: "gw-1", device: "d", from: hour + 3_000, to: hour + 6_000, atMost: 100) == 4)
        #expect(try await store.device(gateway: "gw-1", device: "d")?.readingCount == 10)
        #expect(try await store.device(gateway: "gw-1", device: "nobody") == nil)
    }

    @Test(arguments: StorageBackend.available)
    func retentionDeletesInBatchesByAgeAndNeverStoresAPrunedReadingAgain(_ backend: StorageBackend) async throws {
        let dir = try TemporaryDirectory()
        let opened = try await backend.open(in: dir)
        defer { opened.close() }
        let store = opened.storage
        let day = RetentionPolicy.day
        let now = hour + 100 * day
        // Readings 5, 2.5, 1.5 and 0.5 days old, three per age, one minute apart.
        let ages: [Double] = [5, 2.5, 1.5, 0.5]
        var sequence: Int64 = 0
        var readings: [Reading] = []
        for age in ages {
            for minute in 0..<3 {
                sequence += 1
                readings.append(reading(sequence, at: now - Int64(age * Double(day)) + Int64(minute) * 60_000, temperature(Double(sequence))))
            }
        }
        _ = try await store.insert(readings, receivedAt: 0)
        let event = DeviceStateChange(gateway: "gw-1", id: ReadingID(epoch: 1, sequence: 100), device: "d", kind: .attached, profile: "p", path: "/dev/x", timestamp: now - 3 * day)
        #expect(try await store.insert(event, receivedAt: 0))
        try await store.recordGatewayEvent(gateway: "gw-1", kind: .online, at: now - 3 * day, reason: nil)
        try await store.recordGatewayEvent(gateway: "gw-1", kind: .offline, at: now - day / 2, reason: "heartbeats stopped")
        try await store.recordCommand(CommandRecord(id: "old", gateway: "gw-1", device: "d", name: "x", arguments: [], requestedAt: now - 2 * day))
        try await store.recordCommand(CommandRecord(id: "new", gateway: "gw-1", device: "d", name: "x", arguments: [], requestedAt: now - day / 2))
        let markBefore = try await store.lastStored(gateway: "gw-1")

        let policy = RetentionPolicy(raw: day, minuteRollups: 2 * day, hourRollups: 3 * day)
        let service = RetentionService(storage: store, policy: policy, batchSize: 2, logger: Logger(label: "test"), now: { 0 })
        let report = try await service.pruneOnce(now: now)

        #expect(report.readings == 9)
        #expect(report.events == 2)
        #expect(report.commands == 1)
        let left = try await store.readings(gateway: "gw-1", device: "d", limit: 100)
        #expect(left.map(\.id.sequence) == [10, 11, 12])
        #expect(try await store.device(gateway: "gw-1", device: "d")?.readingCount == 3)
        // Minute cells younger than 2 days remain (1.5 and 0.5 days old); hour cells younger than 3 days.
        let minuteCells = try await store.history(gateway: "gw-1", device: "d", from: 0, to: now, step: 60_000, resolution: .minute)
        #expect(minuteCells.count == 6)
        #expect(minuteCells.first?.timestamp == now - Int64(1.5 * Double(day)))
        let hourCells = try await store.history(gateway: "gw-1", device: "d", from: 0, to: now, step: 3_600_000, resolution: .hour)
        #expect(hourCells.map { $0.values.last?.cell.count } == [3, 3, 3])
        #expect(try await store.events(EventQuery(limit: 10)).map(\.kind) == ["offline"])
        #expect(try await store.command(id: "old") == nil)
        #expect(try await store.command(id: "new") != nil)

        // The acknowledgement mark does not go back, and a pruned reading sent again stays out,
        // rollups included.
        #expect(try await store.lastStored(gateway: "gw-1") == markBefore)
        #expect(try await store.insert([readings[0]], receivedAt: 0).isEmpty)
        #expect(!(try await store.insert(event, receivedAt: 0)))
        #expect(try await store.history(gateway: "gw-1", device: "d", from: 0, to: now, step: 3_600_000, resolution: .hour).count == 3)
        // A second prune finds nothing left to do.
        #expect(try await service.pruneOnce(now: now).total == 0)
    }

    @Test(arguments: StorageBackend.available)
    func eventsListDeviceAndGatewayEventsInATimeRange(_ backend: StorageBackend) async throws {
        let dir = try TemporaryDirectory()
        let opened = try await backend.open(in: dir)
        defer { opened.close() }
        let store = opened.storage
        for (index, kind) in [DeviceStateChange.Kind.attached, .error, .detached].enumerated() {
            let event = DeviceStateChange(
                gateway: "gw-1", id: ReadingID(epoch: 1, sequence: Int64(index + 1)), device: index == 1 ? "other" : "d", kind: kind,
                profile: "p", path: "/dev/ttyUSB0", timestamp: hour + Int64(index) * 10_000, message: kind == .error ? "no such file" : nil,
                counters: [("bytes", Int64(index * 100))]
            )
            _ = try await store.insert(event, receivedAt: 0)
        }
        try await store.recordGatewayEvent(gateway: "gw-1", kind: .offline, at: hour + 15_000, reason: "heartbeats stopped")
        try await store.recordGatewayEvent(gateway: "gw-2", kind: .online, at: hour + 5_000, reason: nil)

        let all = try await store.events(EventQuery(limit: 100))
        #expect(all.map(\.timestamp) == [hour, hour + 5_000, hour + 10_000, hour + 15_000, hour + 20_000])
        #expect(all.map(\.kind) == ["attached", "online", "error", "offline", "detached"])
        #expect(all[2].message == "no such file")
        #expect(all[3].message == "heartbeats stopped")
        guard case .device(let device, let id, _, let path, let counters) = all[2].subject else {
            Issue.record("not a device event")
            return
        }
        #expect(device == "other" && id == ReadingID(epoch: 1, sequence: 2) && path == "/dev/ttyUSB0" && counters == #"{"bytes":100}"#)

        let gatewayOne = try await store.events(EventQuery(gateway: "gw-1", from: hour + 5_000, to: hour + 15_000, limit: 100))
        #expect(gatewayOne.map(\.kind) == ["error", "offline"])
        let deviceOnly = try await store.events(EventQuery(gateway: "gw-1", device: "d", limit: 100))
        #expect(deviceOnly.map(\.kind) == ["attached", "detached"])
        let newestTwo = try await store.events(EventQuery(limit: 2))
        #expect(newestTwo.map(\.kind) == ["offline", "detached"])
    }

    @Test(arguments: StorageBackend.available)
    func aCommandIsStoredPendingThenWithItsResult(_ backend: StorageBackend) async throws {
        let dir = try TemporaryDirectory()
        let opened = try await backend.open(in: dir)
        defer { opened.close() }
        let store = opened.storage
        let record = CommandRecord(
            id: "c1", gateway: "gw-1", device: "co2", name: "calibrateSpan", arguments: [("ppm", 2000), ("ratio", 0.5)],
            requestedBy: "alice", requestedAt: 10
        )
        try await store.recordCommand(record)
        #expect(try await store.command(id: "c1") == record)
        #expect(try await store.command(id: "c1")?.status == "pending")
        let result = CommandResultMessage(id: "c-7", device: "co2", status: .answered, response: [0xFF, 0x86, 0x02])
        try await store.finishCommand(id: "c1", result: result, at: 12)
        let finished = try #require(try await store.command(id: "c1"))
        #expect(finished == record.finished(with: result, at: 12))
        #expect(finished.response == [0xFF, 0x86, 0x02] && finished.finishedAt == 12 && finished.status == "answered")
        #expect(try await store.commands(gateway: "gw-1", device: "co2", limit: 5).map(\.id) == ["c1"])
        #expect(try await store.command(id: "nope") == nil)
    }

    @Test func readingsStoredBeforeRollupsExistedAreRolledUpWhenTheDatabaseIsUpgraded() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("old.sqlite")
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            try db.execute(sql: """
                CREATE TABLE readings (gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, device TEXT NOT NULL,
                profile TEXT NOT NULL, ts INTEGER NOT NULL, received INTEGER NOT NULL, vals TEXT NOT NULL,
                PRIMARY KEY (gateway, epoch, seq)) WITHOUT ROWID;
                INSERT INTO readings VALUES ('gw-1', 1, 1, 'd', 'p', \(hour), 0, '{"t":1.5,"s":"x"}');
                INSERT INTO readings VALUES ('gw-1', 1, 2, 'd', 'p', \(hour + 30_000), 0, '{"t":2.5,"s":"y"}');
                """)
        }
        try old.close()
        let store = try SQLiteStorage(path: path)
        let buckets = try await store.history(gateway: "gw-1", device: "d", from: hour, to: hour + 60_000, step: 60_000, resolution: .minute)
        #expect(buckets.count == 1)
        #expect(buckets.first?.values.map(\.name) == ["t"])
        #expect(buckets.first?.values.first?.cell == RollupCell(min: 1.5, max: 2.5, sum: 4, count: 2, firstTimestamp: hour))
        // A second open runs no migration again.
        _ = try SQLiteStorage(path: path)
    }
}
