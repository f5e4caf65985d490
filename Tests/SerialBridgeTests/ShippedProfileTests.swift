import Foundation
import SerialBridgeParsing
import SerialBridgeProfiles
import SerialBridgeSimulator
import Testing

/// The shipped streaming profiles, each against a source independent of our reading of its
/// datasheet (Fixtures/*/SOURCES.md), and each played by the simulator.
@Suite("Shipped profiles")
struct ShippedProfileTests {
    static let fixtures = Repository.root.appendingPathComponent("Tests/SerialBridgeTests/Fixtures")

    static func profile(_ name: String) throws -> DeviceProfile {
        try ProfileLoader.load(file: Repository.profiles + "/\(name).json")
    }

    /// Hex frames, one per non-comment line.
    static func frames(_ path: String) throws -> [[UInt8]] {
        try String(contentsOf: fixtures.appendingPathComponent(path), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { line in try #require(Hex.decode(String(line))) }
    }

    static func expected(_ path: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    /// Parses a byte stream; returns readings as name → value dictionaries, and rejections.
    static func parse(_ profile: DeviceProfile, _ bytes: [UInt8], chunk: Int = 7) -> (readings: [[String: Value]], offsets: [UInt64], rejections: [Rejection]) {
        var parser = DeviceParser(spec: profile.parsing)
        let names = parser.outputFields.map(\.name)
        var readings: [[String: Value]] = []
        var offsets: [UInt64] = []
        var rejections: [Rejection] = []
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + chunk)
            Array(bytes[index..<end]).withUnsafeBytes { part in
                parser.feed(part) { reading in
                    var named: [String: Value] = [:]
                    for (name, value) in zip(names, reading.values) { named[name] = value }
                    readings.append(named)
                    offsets.append(reading.offset)
                } onRejection: { rejections.append($0) }
            }
            index = end
        }
        return (readings, offsets, rejections)
    }

    static func number(_ value: Value?) -> Double? { value?.number }

    // MARK: Nova SDS011

    @Test func sds011DatasheetExampleAndCaptures() throws {
        let profile = try Self.profile("nova-sds011")
        let frames = try Self.frames("sds011/frames.hex")
        let expected = try Self.expected("sds011/expected.json")
        #expect(frames.count == expected.count && frames.count >= 2)
        // Garbage between frames, and a stream cut at odd places, must not lose any.
        let stream: [UInt8] = frames.flatMap { [UInt8]([0x00, 0xAA, 0x13]) + $0 }
        let result = Self.parse(profile, stream)
        #expect(result.readings.count == frames.count)
        for (reading, want) in zip(result.readings, expected) {
            #expect(Self.number(reading["pm2_5"]) == want["pm2_5"] as? Double, "\(want)")
            #expect(Self.number(reading["pm10"]) == want["pm10"] as? Double, "\(want)")
        }
        // The datasheet's frame: AA C0 D4 04 3A 0A A1 60 1D AB → 123.6 and 261.8 µg/m³.
        #expect(Self.number(result.readings.first?["pm2_5"]) == 123.6)
        #expect(Self.number(result.readings.first?["pm10"]) == 261.8)
    }

    @Test func sds011BadFramesAreRejectedAndTheNextGoodOneSurvives() throws {
        let profile = try Self.profile("nova-sds011")
        let good = try Self.frames("sds011/frames.hex")[0]
        for bad in try Self.frames("sds011/bad-checksum.hex") {
            let result = Self.parse(profile, bad + good)
            #expect(result.readings.count == 1)
            #expect(result.rejections.map(\.stage) == [.integrity])
        }
        for bad in try Self.frames("sds011/bad-framing.hex") {
            let result = Self.parse(profile, bad + good)
            #expect(result.readings.count == 1, "after \(bad)")
            #expect(result.rejections.allSatisfy { $0.stage == .framing })
        }
    }

    // MARK: Plantower PMS5003

    @Test func pms5003CapturesFromPublicDriverTests() throws {
        let profile = try Self.profile("plantower-pms5003")
        let frames = try Self.frames("pms5003/frames.hex")
        let expected = try Self.expected("pms5003/expected.json")
        #expect(frames.count == expected.count && frames.count >= 10)
        let result = Self.parse(profile, frames.flatMap { $0 + [UInt8(0x42)] })
        #expect(result.readings.count == frames.count)
        #expect(result.rejections.allSatisfy { $0.stage == .framing })
        for (reading, want) in zip(result.readings, expected) {
            for (key, value) in want where key != "frame" && key != "hex" && key != "source" {
                guard let number = value as? Double else { continue }
                if key.hasSuffix("_per_cm3") {
                    // PyPMS reports counts per cm³; the sensor counts per 0.1 L (100 cm³).
                    let raw = try #require(Self.number(reading[String(key.dropLast("_per_cm3".count))]))
                    #expect((raw / 100 - number).magnitude < 1e-9, "frame \(want["frame"] ?? 0) \(key)")
                } else {
                    #expect(Self.number(reading[key]) == number, "frame \(want["frame"] ?? 0) \(key)")
                }
            }
        }
    }

    @Test func pms5003OutOfRangeValuesAreFlaggedNotDropped() throws {
        let profile = try Self.profile("plantower-pms5003")
        let last = try #require(try Self.frames("pms5003/frames.hex").last)
        var flagged: [String] = []
        var parser = DeviceParser(spec: profile.parsing)
        last.withUnsafeBytes { parser.feed($0) { flagged = $0.outOfRange } }
        #expect(flagged == ["pm1_0", "pm2_5", "pm10"])
    }

    @Test func pms5003BadFramesAreRejected() throws {
        let profile = try Self.profile("plantower-pms5003")
        let good = try Self.frames("pms5003/frames.hex")[2]
        for bad in try Self.frames("pms5003/bad-checksum.hex") + Self.frames("pms5003/bad-framing.hex") {
            let result = Self.parse(profile, bad + good)
            #expect(result.readings.count == 1, "after \(bad)")
            #expect(!result.rejections.isEmpty)
        }
    }

    // MARK: NMEA GPS

    @Test func nmeaLogFromNmeasimMatchesPynmea2() throws {
        let profile = try Self.profile("nmea-gps")
        let log = try Array(Data(contentsOf: Self.fixtures.appendingPathComponent("nmea/gps.nmea")))
        let expected = try Self.expected("nmea/expected.json")
        let result = Self.parse(profile, log, chunk: 61)
        #expect(result.rejections.isEmpty, "\(result.rejections.prefix(3))")
        // Line number of each reading, from its stream offset.
        var lineStarts: [UInt64] = [0]
        for (index, byte) in log.enumerated() where byte == 0x0A { lineStarts.append(UInt64(index + 1)) }
        var byLine: [Int: [String: Value]] = [:]
        for (reading, offset) in zip(result.readings, result.offsets) {
            let line = (lineStarts.lastIndex { $0 <= offset } ?? 0) + 1
            byLine[line] = reading
        }
        #expect(byLine.count == expected.count)
        for want in expected {
            let line = try #require(want["line"] as? Int)
            let reading = try #require(byLine[line], "no reading for line \(line)")
            let latitude = try #require(Self.number(reading["latitude"]))
            let longitude = try #require(Self.number(reading["longitude"]))
            #expect((latitude - (want["latitude"] as? Double ?? .nan)).magnitude < 1e-6, "line \(line)")
            #expect((longitude - (want["longitude"] as? Double ?? .nan)).magnitude < 1e-6, "line \(line)")
            if want["sentence"] as? String == "GGA" {
                #expect(Self.number(reading["satellites"]) == (want["satellites"] as? Int).map(Double.init), "line \(line)")
                #expect(Self.number(reading["altitude"]) == want["altitude"] as? Double, "line \(line)")
                let labels = [0: "none", 1: "gps", 2: "dgps"]
                #expect(reading["fix_quality"] == (want["fixQuality"] as? Int).flatMap { labels[$0] }.map(Value.string), "line \(line)")
            } else {
                #expect(reading["status"] == (want["status"] as? String).map(Value.string), "line \(line)")
                if let knots = want["speedKnots"] as? Double {
                    #expect((try #require(Self.number(reading["speed"])) - knots * 1.852).magnitude < 1e-9, "line \(line)")
                }
            }
        }
    }

    @Test func nmeaSouthAndWestAreNegative() throws {
        let profile = try Self.profile("nmea-gps")
        let expected = try Self.expected("nmea/expected.json")
        #expect(expected.contains { ($0["latitude"] as? Double ?? 0) < 0 } && expected.contains { ($0["longitude"] as? Double ?? 0) < 0 })
        let result = Self.parse(profile, Array("$GPRMC,123519,A,4807.038,S,01131.000,W,022.4,084.4,230394,003.1,W*65\r\n".utf8))
        #expect(Self.number(result.readings.first?["latitude"]).map { ($0 + 48.1173).magnitude < 1e-9 } == true)
    }

    // MARK: Generic JSON lines

    @Test func jsonLinesWithNestedPathsAndMissingValues() throws {
        let profile = try Self.profile("generic-json-lines")
        let text = #"{"t": 21.5, "rh": 40, "env": {"p": 1013.2}}"# + "\n" + #"{"t": 22}"# + "\n" + "not json\n"
        let result = Self.parse(profile, Array(text.utf8))
        #expect(result.readings.count == 2)
        #expect(result.readings[0] == ["temperature": .float(21.5), "humidity": .float(40), "pressure": .float(1013.2)])
        #expect(Self.number(result.readings[1]["temperature"]) == 22)
        #expect(result.readings[1]["pressure"] == nil)
        #expect(result.rejections.map(\.stage) == [.decoding])
    }

    // MARK: Simulator

    @Test(arguments: ["generic-csv-lines", "generic-json-lines", "nmea-gps", "nova-sds011", "plantower-pms5003"])
    func theSimulatorPlaysEveryShippedProfile(name: String) throws {
        let profile = try Self.profile(name)
        var simulator = try DeviceSimulator(profile: profile, seed: 9)
        let stream = (0..<500).flatMap { _ in simulator.nextOutput() }
        let result = Self.parse(profile, stream, chunk: 13)
        #expect(result.readings.count == 500)
        #expect(result.rejections.isEmpty, "\(result.rejections.prefix(2))")
    }
}
