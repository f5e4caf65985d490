@testable import SerialBridgeServer
import SerialBridgeProtocol
import Testing

@Suite("API parts: history plans, parameters, ids, command bodies, retention ages, rollups")
struct APIPartsTests {
    static let noRetention = RetentionCutoffs(raw: nil, minuteRollups: nil, hourRollups: nil)
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    @Test func aRangeIsAnsweredRawWhenItsReadingsFitThePoints() {
        let range = HistoryRange(from: 0, to: Self.hour, points: 100)
        #expect(HistoryPlan.plan(range, rawCount: 100, cutoffs: Self.noRetention) == .raw(limit: 100))
        #expect(HistoryPlan.plan(range, rawCount: 101, cutoffs: Self.noRetention) == .buckets(step: 60_000, resolution: .minute))
    }

    @Test func longRangesAreDownsampledAtRoundSteps() {
        // A day in 100 points: 14.4 minutes → 15-minute buckets; a week: 100.8 min → 2 h, from the hourly cells.
        #expect(HistoryPlan.plan(HistoryRange(from: 0, to: Self.day - 1, points: 100), rawCount: 101, cutoffs: Self.noRetention)
            == .buckets(step: 15 * 60_000, resolution: .minute))
        #expect(HistoryPlan.plan(HistoryRange(from: 0, to: 7 * Self.day - 1, points: 100), rawCount: 101, cutoffs: Self.noRetention)
            == .buckets(step: 2 * Self.hour, resolution: .hour))
        // Past the ladder (30 days per bucket): whole days.
        #expect(HistoryPlan.steps(for: 1000 * Self.day, points: 10) == 100 * Self.day)
        // An explicit step is kept; whole hours use the hourly cells.
        #expect(HistoryPlan.plan(HistoryRange(from: 0, to: Self.day, points: 5, step: 5 * 60_000), rawCount: 0, cutoffs: Self.noRetention)
            == .buckets(step: 5 * 60_000, resolution: .minute))
        #expect(HistoryPlan.plan(HistoryRange(from: 0, to: Self.day, points: 5, step: 3 * Self.hour), rawCount: 0, cutoffs: Self.noRetention)
            == .buckets(step: 3 * Self.hour, resolution: .hour))
    }

    @Test func rangesOlderThanWhatRetentionKeepsUseTheCoarserData() {
        let now = 100 * Self.day
        let cutoffs = RetentionPolicy(raw: 30 * Self.day, minuteRollups: 90 * Self.day, hourRollups: nil).cutoffs(now: now)
        // Few readings left, but the raw ones before the raw cutoff are gone: buckets.
        let old = HistoryRange(from: now - 40 * Self.day, to: now - 39 * Self.day, points: 1000)
        #expect(HistoryPlan.plan(old, rawCount: 0, cutoffs: cutoffs) == .buckets(step: 2 * 60_000, resolution: .minute))
        // Before the minute cutoff: at least an hour per bucket, from the hourly cells.
        let older = HistoryRange(from: now - 95 * Self.day, to: now - 94 * Self.day, points: 1000)
        #expect(HistoryPlan.plan(older, rawCount: 0, cutoffs: cutoffs) == .buckets(step: Self.hour, resolution: .hour))
        // Recent ranges are unaffected.
        let recent = HistoryRange(from: now - Self.hour, to: now, points: 1000)
        #expect(HistoryPlan.plan(recent, rawCount: 10, cutoffs: cutoffs) == .raw(limit: 1000))
    }

    @Test func readingsParametersAreCheckedWithSpecificMessages() {
        func parse(_ pairs: [(String, String)]) -> Result<HistoryRequest, APIError> {
            Result { () throws(APIError) in try HistoryRequest.parse(QueryParameters(pairs), now: 1_000_000_000) }
        }
        #expect(parse([]) == .success(.newest(limit: 100)))
        #expect(parse([("limit", "5")]) == .success(.newest(limit: 5)))
        #expect(parse([("from", "10"), ("to", "20")]) == .success(.range(HistoryRange(from: 10, to: 20, points: 1000))))
        #expect(parse([("points", "50")]) == .success(.range(HistoryRange(from: 1_000_000_000 - 86_400_000, to: 1_000_000_000, points: 50))))
        #expect(parse([("from", "0"), ("step", "5m")]) == .success(.range(HistoryRange(from: 0, to: 1_000_000_000, points: 1000, step: 300_000))))
        #expect(parse([("from", "0"), ("to", "3600000"), ("step", "120000")]) == .success(.range(HistoryRange(from: 0, to: 3_600_000, points: 1000, step: 120_000))))
        let failures: [([(String, String)], String)] = [
            ([("limit", "0")], "limit must be an integer from 1 to 10000, not \"0\""),
            ([("limit", "x")], "limit must be an integer from 1 to 10000, not \"x\""),
            ([("from", "20"), ("to", "10")], "from (20) must not be after to (10)"),
            ([("from", "yesterday")], "from must be a time in milliseconds since 1970 (a non-negative integer), not \"yesterday\""),
            ([("points", "10"), ("step", "1m")], "give points or step, not both"),
            ([("step", "90s")], "step must be a whole number of minutes (the finest rollup), not 90000 ms"),
            ([("step", "-1m")], "step must be a positive duration: milliseconds, or a number with s, m, h or d (e.g. 5m), not \"-1m\""),
            ([("from", "0"), ("step", "1m")], "step 60000 ms makes 16667 buckets over this range; at most 10000: use a larger step"),
            ([("from", "0"), ("limit", "5")], "limit applies only without from, to, points and step; with a time range use points"),
            ([("from", "1"), ("from", "2")], "from is given 2 times"),
        ]
        for (pairs, message) in failures {
            #expect(parse(pairs) == .failure(.badRequest(message)), "\(pairs)")
        }
    }

    @Test func deviceIdsArePercentDecodedAndSplitAtTheFirstColon() throws {
        #expect(try DeviceAddress.parse(pathSegment: "gw-1%3Asensor-1") == DeviceAddress(gateway: "gw-1", device: "sensor-1"))
        #expect(try DeviceAddress.parse(pathSegment: "gw-1:a:b") == DeviceAddress(gateway: "gw-1", device: "a:b"))
        #expect(try DeviceAddress.parse(pathSegment: "gw%20one:caf%C3%A9") == DeviceAddress(gateway: "gw one", device: "café"))
        #expect(throws: APIError.badRequest("device id \"gw-1\" must be GATEWAY:DEVICE")) { try DeviceAddress.parse(pathSegment: "gw-1") }
        #expect(throws: APIError.badRequest("device id \":d\" must be GATEWAY:DEVICE")) { try DeviceAddress.parse(pathSegment: ":d") }
        #expect(throws: APIError.badRequest("device id \"gw%3\" has a bad percent escape or is not UTF-8")) { try DeviceAddress.parse(pathSegment: "gw%3") }
        #expect(throws: APIError.badRequest("device id \"gw%FF:d\" has a bad percent escape or is not UTF-8")) { try DeviceAddress.parse(pathSegment: "gw%FF:d") }
    }

    @Test func commandBodiesAreCheckedFieldByField() throws {
        let body = try CommandBody.parse(Array(#"{"name":"calibrateSpan","arguments":{"ppm":2000,"ratio":0.5},"timeoutMs":500}"#.utf8))
        #expect(body == CommandBody(name: "calibrateSpan", arguments: [("ppm", 2000), ("ratio", 0.5)], timeoutMs: 500))
        #expect(try CommandBody.parse(Array(#"{"name":"readCO2"}"#.utf8)) == CommandBody(name: "readCO2", arguments: [], timeoutMs: 30_000))
        let failures: [(String, String)] = [
            ("not json", "the body must be JSON: "),
            ("[1]", "the body must be a JSON object"),
            (#"{"arguments":{}}"#, "name must be the command's name (a string of 1 to 200 bytes)"),
            (#"{"name":""}"#, "name must be the command's name (a string of 1 to 200 bytes)"),
            (#"{"name":"x","arguments":{"ppm":"high"}}"#, "arguments.ppm must be a number"),
            (#"{"name":"x","arguments":{"a":1,"a":2}}"#, "arguments.a is given twice"),
            (#"{"name":"x","arguments":[1]}"#, "arguments must be an object of numbers, e.g. {\"ppm\": 2000}"),
            (#"{"name":"x","timeoutMs":0}"#, "timeoutMs must be an integer from 1 to 300000"),
            (#"{"name":"x","args":{}}"#, "unknown field \"args\"; a command has name, arguments and timeoutMs"),
        ]
        for (text, message) in failures {
            do {
                _ = try CommandBody.parse(Array(text.utf8))
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.status == .badRequest && error.message.hasPrefix(message), "\(text): \(error.message)")
            }
        }
    }

    @Test func retentionAgesParseWithUnitsOrForever() throws {
        #expect(try RetentionPolicy.parseAge("30d") == 30 * Self.day)
        #expect(try RetentionPolicy.parseAge("12h") == 12 * Self.hour)
        #expect(try RetentionPolicy.parseAge("90m") == 90 * 60_000)
        #expect(try RetentionPolicy.parseAge("45s") == 45_000)
        #expect(try RetentionPolicy.parseAge("forever") == nil)
        #expect(try RetentionPolicy.parseAge("0") == nil)
        for bad in ["30", "d", "-1d", "1w", "", "99999999999999999d"] {
            #expect(throws: RetentionAgeError(text: bad)) { try RetentionPolicy.parseAge(bad) }
        }
        #expect(RetentionAgeError(text: "1w").description == "\"1w\" is not an age: use a positive number with d, h, m or s (e.g. 30d), or forever")
        let cutoffs = RetentionPolicy.standard.cutoffs(now: 1000 * Self.day)
        #expect(cutoffs == RetentionCutoffs(raw: 970 * Self.day, minuteRollups: 910 * Self.day, hourRollups: 270 * Self.day))
    }

    @Test func theAccumulatorFoldsNumbersPerCellAndSkipsTheRest() {
        var minutes = RollupAccumulator(resolution: .minute)
        for (second, value) in [(0, 2.0), (30, 4.0), (61, 8.0)] {
            minutes.add(Reading(
                gateway: "g", id: ReadingID(epoch: 1, sequence: Int64(second)), device: "d", profile: "p", timestamp: Int64(second) * 1000,
                values: [
                    NamedValue(name: "v", value: .float(value)), NamedValue(name: "nan", value: .float(.nan)),
                    NamedValue(name: "s", value: .string("x")), NamedValue(name: "b", value: .boolean(true)),
                ]
            ))
        }
        #expect(minutes.cells.map(\.key.bucket) == [0, 60_000])
        #expect(minutes.cells.map(\.key.name) == ["v", "v"])
        #expect(minutes.cells[0].cell == RollupCell(min: 2, max: 4, sum: 6, count: 2, firstTimestamp: 0))
        #expect(RollupAccumulator.floor(-1, 60_000) == -60_000)
        #expect(RollupAccumulator.floor(119_999, 60_000) == 60_000)
        // Timestamps come from gateways: the extremes must not trap.
        #expect(RollupAccumulator.floor(Int64.min, 60_000) == Int64.min)
        #expect(RollupAccumulator.floor(Int64.min + 1, 3_600_000) == Int64.min)
        #expect(RollupAccumulator.floor(Int64.max, 60_000) == Int64.max - Int64.max % 60_000)
    }
}
