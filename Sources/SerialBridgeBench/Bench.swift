import ArgumentParser
import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeSimulator

#if canImport(Glibc)
import Glibc
#endif

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serialbridge-bench",
        abstract: "Benchmarks and long fuzz runs (build with -c release; see docs/BENCHMARKS.md).",
        subcommands: [Parsing.self, Fuzz.self]
    )
}

/// Monotonic nanoseconds.
func now() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
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

    func run() throws {
        let library = try ProfileLibrary.load(paths: [profiles])
        print("profile                      readings/s     MB/s   ns/reading  (\(frames) frames, \(chunk)-byte reads, best of \(repeats))")
        for name in library.profiles.keys.sorted() {
            guard let profile = library.profiles[name], profile.simulate != nil else { continue }
            var simulator = try DeviceSimulator(profile: profile, seed: 1)
            var stream: [UInt8] = []
            for _ in 0..<frames { stream.append(contentsOf: simulator.nextOutput()) }
            var best = UInt64.max
            var produced = 0
            for _ in 0..<repeats {
                let start = cpuTime()
                produced = Self.pipeline(profile: profile, stream: stream, chunk: chunk, encode: !parseOnly)
                best = min(best, cpuTime() - start)
            }
            let seconds = Double(best) / 1e9
            let rate = Double(produced) / seconds
            let megabytes = Double(stream.count) / seconds / 1e6
            let padded = name.padding(28)
            print("\(padded) \(Int(rate).formatted(10))  \(Int(megabytes).formatted(7))  \(Int(1e9 / max(rate, 1)).formatted(11))   (\(produced) readings)")
        }
    }

    /// The gateway's hot path without I/O: parse every chunk and encode each reading as a frame.
    static func pipeline(profile: DeviceProfile, stream: [UInt8], chunk: Int, encode: Bool) -> Int {
        var parser = DeviceParser(spec: profile.parsing)
        let encoder = ReadingEncoder(gateway: "gw-bench", device: "dev", profile: profile.name, fields: parser.outputFields.map { ($0.name, $0.unit) })
        var count = 0
        var bytesOut = 0
        var sequence: Int64 = 0
        stream.withUnsafeBytes { all in
            var index = 0
            while index < all.count {
                let end = min(all.count, index + chunk)
                parser.feed(UnsafeRawBufferPointer(rebasing: all[index..<end]), at: UInt64(index)) { reading in
                    count += 1
                    guard encode else { return }
                    sequence += 1
                    // The gateway's path: the queue assigns the identity and encodes with the device's encoder.
                    let values = reading.values.map { $0.map(WireValue.init) }
                    bytesOut &+= encoder.encode(
                        id: ReadingID(epoch: 1, sequence: sequence), timestamp: 1_795_753_200_000,
                        values: values, outOfRange: reading.outOfRange
                    ).count
                }
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
