import ArgumentParser
import Foundation
import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeSimulator
import SerialBridgeSpool
import SerialBridgeUplink

#if canImport(Glibc)
import Glibc
#endif

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serialbridge-bench",
        abstract: "Benchmarks and long fuzz runs (build with -c release; see docs/BENCHMARKS.md).",
        subcommands: [
            Parsing.self, Framers.self, Fuzz.self, SpoolBench.self, SpoolSQLiteBench.self, ServerStoreBench.self, ServerLoadBench.self, FaultsCommand.self, E2EBench.self,
        ]
    )
}

/// CPU time of this process in nanoseconds (user + system).
func cpuTime() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

struct Parsing: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Readings/s and bytes/s per profile through framer + integrity + decoder + JSON frame encoding, on one core."
    )

    @Option(help: "Profile folder.")
    var profiles = "DeviceProfiles"

    @Option(help: "Frames generated per profile.")
    var frames = 200_000

    @Option(help: "Repetitions; the best is reported.")
    var repeats = 5

    @Option(help: "Bytes per simulated read.")
    var chunk = 4096

    @Flag(help: "Parse only; do not encode frames (to see where the time goes).")
    var parseOnly = false

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    /// One profile's figures.
    struct Row: Encodable {
        let profile: String
        /// `stream` (the device talks on its own) or `polled` (answers to the gateway's requests).
        let kind: String
        let readings: Int
        let deviceBytes: Int
        let readingsPerSecond: Double
        let megabytesPerSecond: Double
        let nanosecondsPerReading: Double
    }

    func run() throws {
        let library = try ProfileLibrary.load(paths: [profiles])
        if !json {
            print("profile                      readings/s     MB/s   ns/reading  (\(frames) frames or poll cycles, \(chunk)-byte reads, best of \(repeats))")
        }
        var rows: [Row] = []
        for name in library.profiles.keys.sorted() {
            guard let profile = library.profiles[name], profile.simulate != nil else { continue }
            let kind: String
            let deviceBytes: Int
            let pass: () -> Int
            if let polled = try PolledPipeline(profile: profile, cycles: frames) {
                kind = "polled"
                deviceBytes = polled.bytes
                let encode = !parseOnly
                pass = { polled.run(encode: encode) }
            } else {
                var simulator = try DeviceSimulator(profile: profile, seed: 1)
                var stream: [UInt8] = []
                for _ in 0..<frames { stream.append(contentsOf: simulator.nextOutput()) }
                kind = "stream"
                deviceBytes = stream.count
                let (chunk, encode) = (chunk, !parseOnly)
                pass = { Self.pipeline(profile: profile, stream: stream, chunk: chunk, encode: encode) }
            }
            var best = UInt64.max
            var produced = 0
            for _ in 0..<repeats {
                let start = cpuTime()
                produced = pass()
                best = min(best, cpuTime() - start)
            }
            let seconds = Double(best) / 1e9
            let rate = Double(produced) / seconds
            let megabytes = Double(deviceBytes) / seconds / 1e6
            rows.append(Row(
                profile: name, kind: kind, readings: produced, deviceBytes: deviceBytes, readingsPerSecond: rate.rounded(),
                megabytesPerSecond: (megabytes * 10).rounded() / 10, nanosecondsPerReading: (1e9 / max(rate, 1)).rounded()
            ))
            if !json {
                print("\(name.padding(28)) \(Int(rate).formatted(10))  \(Int(megabytes).formatted(7))  \(Int(1e9 / max(rate, 1)).formatted(11))   (\(produced) readings, \(kind))")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        }
    }

    /// The gateway's hot path without I/O: parse every chunk into a batch of encoded readings,
    /// then number them into a spool batch, as device sessions and the outbound queue do.
    static func pipeline(profile: DeviceProfile, stream: [UInt8], chunk: Int, encode: Bool) -> Int {
        var parser = DeviceParser(spec: profile.parsing)
        let encoder = ReadingEncoder(gateway: "gw-bench", device: "dev", profile: profile.name, fields: parser.outputFields.map { ($0.name, $0.unit) })
        var count = 0
        var bytesOut = 0
        var sequence: Int64 = 0
        var readings = ReadingBatch()
        var frames = SpoolFrames()
        stream.withUnsafeBytes { all in
            var index = 0
            while index < all.count {
                let end = min(all.count, index + chunk)
                parser.feed(UnsafeRawBufferPointer(rebasing: all[index..<end]), at: UInt64(index)) { reading in
                    count += 1
                    guard encode else { return }
                    readings.append(encoder: encoder, timestamp: 1_795_753_200_000, count: reading.values.count, outOfRange: reading.outOfRange) {
                        reading.values[$0].map(WireValue.init)
                    }
                }
                for reading in 0..<readings.count {
                    sequence += 1
                    readings.write(reading, id: ReadingID(epoch: 1, sequence: sequence), into: &frames)
                }
                bytesOut &+= frames.bytes.count
                readings.removeAll()
                frames.removeAll()
                index = end
            }
        }
        precondition(bytesOut > 0 || count == 0 || !encode)
        return count
    }
}

extension WireValue {
    init(_ value: Value) {
        switch value {
        case .float(let number): self = .float(number)
        case .integer(let number): self = .integer(number)
        case .string(let text): self = .string(text)
        case .boolean(let flag): self = .boolean(flag)
        case .bytes(let bytes): self = .bytes(bytes)
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

extension Int {
    func formatted(_ width: Int) -> String {
        let text = String(self)
        return text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}

struct Framers: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bytes/s through each framer alone (and with the profile's integrity check), on one core."
    )

    @Option(help: "Megabytes of frames per framer.")
    var megabytes = 64

    @Option(help: "Repetitions; the best is reported.")
    var repeats = 5

    @Option(help: "Bytes per simulated read.")
    var chunk = 4096

    func run() throws {
        // Typical frames: the two shipped binary sensors, and 32-byte payloads in the generic framings.
        var payloadRandom = SplitMix64(seed: 3)
        let payload = (0..<32).map { _ in UInt8(truncatingIfNeeded: payloadRandom.next()) }
        let sds011: [UInt8] = [0xAA, 0xC0, 0xD4, 0x04, 0x3A, 0x0A, 0xA1, 0x60, 0x1D, 0xAB]
        let pms5003: [UInt8] = Hex.decode("424d001c0005000d00160005000d001602fd00fc001d000f00060006970003c5") ?? []
        let cases: [(String, any FramerConfiguration, IntegrityCheck?, [UInt8])] = [
            ("fixed (SDS011, 10 B)", FixedLengthFraming(length: 10, sync: [0xAA, 0xC0], tail: [0xAB]),
             IntegrityCheck(algorithm: .sum8, from: 2, to: 8, position: 8), sds011),
            ("length-field (PMS5003, 32 B)", try Self.framing(#"{"type":"length-field","sync":"42 4D","length":{"offset":2,"width":2}}"#),
             IntegrityCheck(algorithm: .sum16, position: -2, endianness: .big), pms5003),
            ("slip (32 B)", try Self.framing(#"{"type":"slip"}"#), nil, [0xC0] + payload.flatMap(Self.slipEscape) + [0xC0]),
            ("cobs (32 B)", try Self.framing(#"{"type":"cobs"}"#), nil, Self.cobs(payload) + [0x00]),
            ("delimited (HDLC-like, 32 B)", try Self.framing(#"{"type":"delimited","start":"7E","end":"7E","escape":{"byte":"7D","xor":"20"}}"#), nil,
             [0x7E] + payload.flatMap { $0 == 0x7E || $0 == 0x7D ? [0x7D, $0 ^ 0x20] : [$0] } + [0x7E]),
            ("line (CSV, 11 B)", LineFraming(), nil, Array("21.5,40.2\r\n".utf8)),
        ]
        print("framer                              MB/s   frames/s    MB/s with integrity  (\(megabytes) MB, \(chunk)-byte reads)")
        for (name, framing, integrity, frame) in cases {
            var stream: [UInt8] = []
            stream.reserveCapacity(megabytes << 20)
            while stream.count < megabytes << 20 { stream.append(contentsOf: frame) }
            var bare = UInt64.max
            var checked = UInt64.max
            var frames = 0
            for _ in 0..<repeats {
                var start = cpuTime()
                frames = Self.frame(stream, framing: framing, integrity: nil, chunk: chunk)
                bare = min(bare, cpuTime() - start)
                start = cpuTime()
                _ = Self.frame(stream, framing: framing, integrity: integrity, chunk: chunk)
                checked = min(checked, cpuTime() - start)
            }
            let megabytesPerSecond = Double(stream.count) / (Double(bare) / 1e9) / 1e6
            let withCheck = Double(stream.count) / (Double(checked) / 1e9) / 1e6
            let framesPerSecond = Double(frames) / (Double(bare) / 1e9)
            let check = integrity == nil ? "-" : String(Int(withCheck))
            print("\(name.padding(34)) \(Int(megabytesPerSecond).formatted(6)) \(Int(framesPerSecond).formatted(10)) \(check.padding(8).reversedPadding(22))")
        }
    }

    static func framing(_ json: String) throws -> any FramerConfiguration {
        guard case .object = try JSONParser.parse(Array(json.utf8)) else { throw ValidationError("bad framing") }
        var reader = JSONObjectReader(try JSONParser.parse(Array(json.utf8)), file: "bench", path: "$.framing")
        guard let type = reader.string("type"), let kind = ParserRegistry.framers[type],
              let configuration = kind.init(reading: &reader) else { throw ValidationError("bad framing \(json)") }
        return configuration
    }

    static func frame(_ stream: [UInt8], framing: any FramerConfiguration, integrity: IntegrityCheck?, chunk: Int) -> Int {
        var framer = framing.makeFramer()
        var frames = 0
        stream.withUnsafeBytes { all in
            var index = 0
            while index < all.count {
                let end = min(all.count, index + chunk)
                framer.feed(UnsafeRawBufferPointer(rebasing: all[index..<end]), at: 0) { event in
                    guard case .frame(let frame, _) = event else { return }
                    if let integrity, case .failure = integrity.verify(frame) { return }
                    frames += 1
                }
                index = end
            }
        }
        return frames
    }

    static func slipEscape(_ byte: UInt8) -> [UInt8] {
        switch byte {
        case 0xC0: [0xDB, 0xDC]
        case 0xDB: [0xDB, 0xDD]
        default: [byte]
        }
    }

    static func cobs(_ data: [UInt8]) -> [UInt8] {
        var output: [UInt8] = [0]
        var codeIndex = 0
        var code: UInt8 = 1
        for byte in data {
            if byte == 0 {
                output[codeIndex] = code
                codeIndex = output.count
                output.append(0)
                code = 1
            } else {
                output.append(byte)
                code += 1
                if code == 0xFF {
                    output[codeIndex] = code
                    codeIndex = output.count
                    output.append(0)
                    code = 1
                }
            }
        }
        output[codeIndex] = code
        return output
    }
}

extension String {
    func reversedPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
