import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgePolling
import SerialBridgeSimulator

#if canImport(Glibc)
import Glibc
#endif

/// The fuzz targets, shared by this command and the test suite's smoke pass.
public enum FuzzTargets {
    /// Outcome of fuzzing one parser.
    public struct ParserResult {
        /// Readings produced.
        public var readings = 0
        /// Frames rejected.
        public var rejections = 0
        /// The slowest single input, in microseconds.
        public var slowestMicroseconds: UInt64 = 0
    }

    /// Feeds mutated device output and random bytes through a fresh parser per input, plus one
    /// long-lived parser that sees every input in sequence (resynchronisation across inputs).
    public static func parser(_ profile: DeviceProfile, iterations: Int, random: inout SplitMix64) -> ParserResult {
        if let device = profile.polledDevice(name: "fuzz") {
            return polled(profile, device: device, iterations: iterations, random: &random)
        }
        var result = ParserResult()
        var simulator = try? DeviceSimulator(profile: profile, seed: random.next())
        var longLived = DeviceParser(spec: profile.parsing)
        var time: UInt64 = 0
        for _ in 0..<iterations {
            var input: [UInt8] = []
            if var device = simulator, random.next() % 4 != 0 {
                for _ in 0..<(1 + Int(random.next() % 4)) { input.append(contentsOf: device.nextOutput()) }
                simulator = device
                mutate(&input, random: &random)
            } else {
                input = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            time &+= random.next() % 50_000_000
            let started = now()
            var parser = DeviceParser(spec: profile.parsing)
            input.withUnsafeBytes { bytes in
                parser.feed(bytes, at: time, onReading: { _ in result.readings += 1 }, onRejection: { _ in result.rejections += 1 })
                longLived.feed(bytes, at: time, onReading: { _ in }, onRejection: { _ in })
            }
            parser.flush(at: time &+ 1_000_000_000, onReading: { _ in result.readings += 1 }, onRejection: { _ in result.rejections += 1 })
            let elapsed = (now() - started) / 1000
            result.slowestMicroseconds = max(result.slowestMicroseconds, elapsed)
            precondition(elapsed < 1_000_000, "input took over a second: \(input)")
        }
        return result
    }

    /// A polled device's answers, mutated or random, through the framer into the bus scheduler,
    /// one request at a time, with deadlines passing in between.
    static func polled(_ profile: DeviceProfile, device: PolledDevice, iterations: Int, random: inout SplitMix64) -> ParserResult {
        var result = ParserResult()
        var simulator = try? DeviceSimulator(profile: profile, seed: random.next())
        var scheduler = BusScheduler(devices: [device], now: 0)
        var time: UInt64 = 1
        for _ in 0..<iterations {
            scheduler.expire(at: time)
            guard let request = scheduler.nextRequest(at: time) else {
                time = max(time + 1, scheduler.nextWakeup ?? time + 1)
                continue
            }
            var answer: [UInt8]
            if var device = simulator, random.next() % 4 != 0 {
                answer = device.respond(to: request)
                simulator = device
                if random.next() % 2 == 0 { mutate(&answer, random: &random) }
            } else {
                answer = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            let started = now()
            var framer = profile.parsing.framing.makeFramer()
            answer.withUnsafeBytes { bytes in
                framer.feed(bytes, at: time) { event in
                    switch event {
                    case .frame(let frame, _): scheduler.receive(frame, at: time)
                    case .rejected: result.rejections += 1
                    }
                }
            }
            for output in scheduler.takeOutputs() {
                switch output {
                case .reading: result.readings += 1
                case .rejected: result.rejections += 1
                default: break
                }
            }
            let elapsed = (now() - started) / 1000
            result.slowestMicroseconds = max(result.slowestMicroseconds, elapsed)
            precondition(elapsed < 1_000_000, "answer took over a second: \(answer)")
            time &+= 1 + random.next() % 400_000_000
        }
        return result
    }

    /// Mutates shipped profiles' JSON and feeds it to the loader; returns how many still loaded.
    public static func loader(library: ProfileLibrary, iterations: Int, random: inout SplitMix64) -> Int {
        let sources = library.sources.values.sorted().compactMap { try? FileContents.read($0) }
        guard !sources.isEmpty else { return 0 }
        var accepted = 0
        for _ in 0..<iterations {
            var input = sources[Int(random.next() % UInt64(sources.count))]
            mutate(&input, random: &random)
            if (try? ProfileLoader.load(bytes: input, file: "fuzz.json")) != nil { accepted += 1 }
        }
        return accepted
    }

    /// Mutates protocol test messages and decodes them; returns how many still decoded.
    public static func messages(iterations: Int, random: inout SplitMix64) -> Int {
        let seeds: [[UInt8]] = [
            Array(#"{"type":"reading","gateway":"g","epoch":1,"seq":2,"device":"d","profile":"p","ts":3,"values":{"a":1.5,"b":"x","c":{"base64":"AAE="}},"units":{"a":"V"},"outOfRange":["a"]}"#.utf8),
            Array(#"{"type":"welcome","protocol":1,"acked":{"epoch":6,"seq":1042},"heartbeatMs":10000}"#.utf8),
            Array(#"{"type":"hello","gateway":"gw-1","software":"0.1.0","protocols":[1],"epoch":7,"lastSeq":0}"#.utf8),
        ]
        var decoded = 0
        for _ in 0..<iterations {
            var input = seeds[Int(random.next() % UInt64(seeds.count))]
            mutate(&input, random: &random)
            if (try? MessageCodec.decode(input)) != nil { decoded += 1 }
        }
        return decoded
    }

    /// One to four random edits.
    static func mutate(_ input: inout [UInt8], random: inout SplitMix64) {
        for _ in 0..<(1 + Int(random.next() % 4)) {
            let position = input.isEmpty ? 0 : Int(random.next() % UInt64(input.count))
            switch random.next() % 6 {
            case 0 where !input.isEmpty: input[position] ^= UInt8(1 << (random.next() % 8))
            case 1: input.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
            case 2 where !input.isEmpty: input.remove(at: position)
            case 3: input.removeLast(input.count - position)
            case 4 where !input.isEmpty:
                let end = min(input.count, position + 1 + Int(random.next() % 16))
                input.insert(contentsOf: input[position..<end], at: position)
            default:
                if !input.isEmpty { input[position] = [0x00, 0x0A, 0x0D, 0x2C, 0x22, 0x7B, 0x7D, 0xFF][Int(random.next() % 8)] }
            }
        }
    }

    /// Resident set size from /proc/self/statm, in KiB.
    public static func residentKilobytes() -> Int {
        guard let bytes = try? FileContents.read("/proc/self/statm") else { return 0 }
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * 4 : 0
    }
}

/// Monotonic nanoseconds, for timing fuzz inputs.
func now() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
