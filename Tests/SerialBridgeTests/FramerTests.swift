import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeSimulator
import Testing

// Shared support for the binary framer suites (FramerTests*.swift): a recorder that feeds chunks
// and collects events, split-point and smoke-test drivers, a seeded generator and hex literals.

/// A framer event with its bytes copied out, comparable in expectations.
enum FramerRecord: Equatable, CustomStringConvertible {
    case frame([UInt8], at: UInt64)
    case rejected(String, at: UInt64)

    var offset: UInt64 {
        switch self {
        case .frame(_, let offset), .rejected(_, let offset): offset
        }
    }

    var description: String {
        switch self {
        case .frame(let bytes, let offset): "frame@\(offset)[\(framerHexString(bytes))]"
        case .rejected(let reason, let offset): "rejected@\(offset)(\(reason))"
        }
    }
}

/// A framer whose buffered bytes the tests can watch.
protocol BufferedFramer: Framer {
    var bufferedBytes: Int { get }
}

extension FixedLengthFramer: BufferedFramer {}
extension LengthFieldFramer: BufferedFramer {}
extension DelimiterFramer: BufferedFramer {}
extension SLIPFramer: BufferedFramer {}
extension COBSFramer: BufferedFramer {}
extension SilenceGapFramer: BufferedFramer {}

/// What feeding produced: events in order and, per frame, whether it was passed from inside the
/// chunk just fed (no copy).
struct FramerLog {
    var events: [FramerRecord] = []
    var framesFromChunk: [Bool] = []
    var frames: [[UInt8]] {
        events.compactMap { if case .frame(let bytes, _) = $0 { bytes } else { nil } }
    }
    var rejections: [FramerRecord] {
        events.filter { if case .rejected = $0 { true } else { false } }
    }
}

/// Feeds `bytes` as one chunk arriving at `time` and appends what the framer reported to `log`.
func feedFramer<F: Framer>(_ framer: inout F, _ bytes: [UInt8], at time: UInt64 = 0, into log: inout FramerLog) {
    bytes.withUnsafeBytes { chunk in
        let range = chunk.baseAddress.map { UInt(bitPattern: $0)..<UInt(bitPattern: $0) + UInt(chunk.count) }
        framer.feed(chunk, at: time) { event in
            switch event {
            case .frame(let frame, let offset):
                log.events.append(.frame(Array(frame), at: offset))
                let address = frame.baseAddress.map { UInt(bitPattern: $0) }
                log.framesFromChunk.append(address.map { range?.contains($0) ?? false } ?? false)
            case .rejected(let reason, let offset):
                log.events.append(.rejected(reason, at: offset))
            }
        }
    }
}

/// Tells the framer it is idle at `time` and appends what it reported to `log`.
func flushFramer<F: Framer>(_ framer: inout F, at time: UInt64, into log: inout FramerLog) {
    framer.flush(at: time) { event in
        switch event {
        case .frame(let frame, let offset): log.events.append(.frame(Array(frame), at: offset))
        case .rejected(let reason, let offset): log.events.append(.rejected(reason, at: offset))
        }
    }
}

/// Feeds `chunks` in order (all at time 0) and returns what the framer reported.
func recordFraming<F: Framer>(_ framer: inout F, _ chunks: [[UInt8]]) -> FramerLog {
    var log = FramerLog()
    for chunk in chunks { feedFramer(&framer, chunk, into: &log) }
    return log
}

/// Feeds `chunks` to a fresh framer and returns the log and the framer.
func recordFraming<F: Framer>(_ make: () -> F, _ chunks: [[UInt8]]) -> (log: FramerLog, framer: F) {
    var framer = make()
    let log = recordFraming(&framer, chunks)
    return (log, framer)
}

/// Checks that `input` gives `expected` however it is cut into reads: whole, at every single split
/// point, at every pair of split points (inputs up to 80 bytes), and a byte at a time. Also checks
/// that the counters come out the same every time.
func expectSameAtEverySplit<F: Framer>(
    _ make: () -> F, _ input: [UInt8], _ expected: [FramerRecord],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let (whole, reference) = recordFraming(make, [input])
    #expect(whole.events == expected, "whole input", sourceLocation: sourceLocation)
    var failures = 0
    func check(_ chunks: [[UInt8]], _ label: @autoclosure () -> String) {
        guard failures < 3 else { return }
        let (log, framer) = recordFraming(make, chunks)
        if log.events != expected || framer.counters != reference.counters {
            failures += 1
            Issue.record("\(label()): \(log.events) counters \(framer.counters)", sourceLocation: sourceLocation)
        }
    }
    for split in 0...input.count {
        check([Array(input[..<split]), Array(input[split...])], "split at \(split)")
    }
    if input.count <= 80 {
        for first in 0...input.count {
            for second in first...input.count {
                check([Array(input[..<first]), Array(input[first..<second]), Array(input[second...])], "split at \(first), \(second)")
            }
        }
    }
    check(input.map { [$0] }, "byte at a time")
}

/// Feeds 1 MiB of `garbage` in 4 KiB reads, then `good`, and checks that the buffer
/// never held more than `bound` bytes and that the last frame is `expectedFrame` (unless nil).
func expectBoundedThroughGarbage<F: BufferedFramer>(
    _ framer: inout F, garbage: (inout FramerSmokeGenerator) -> UInt8, then good: [UInt8], expectedFrame: [UInt8]?,
    bound: Int, sourceLocation: SourceLocation = #_sourceLocation
) -> FramerLog {
    var random = FramerSmokeGenerator(seed: 0xB0B)
    var log = FramerLog()
    var largest = 0
    var fed: UInt64 = 0
    let before = framer.counters.bytes
    for _ in 0..<256 {
        let chunk = (0..<4096).map { _ in garbage(&random) }
        feedFramer(&framer, chunk, into: &log)
        fed += UInt64(chunk.count)
        largest = max(largest, framer.bufferedBytes)
    }
    feedFramer(&framer, good, into: &log)
    fed += UInt64(good.count)
    #expect(largest <= bound, "buffer held \(largest) bytes", sourceLocation: sourceLocation)
    #expect(framer.bufferedBytes <= bound, sourceLocation: sourceLocation)
    if let expectedFrame { #expect(log.frames.last == expectedFrame, sourceLocation: sourceLocation) }
    #expect(framer.counters.bytes - before == fed, sourceLocation: sourceLocation)
    return log
}

/// Feeds 10,000 seeded random inputs, each to a fresh framer in random reads, and checks the
/// invariants every framer keeps: no crash, `counters.bytes` equals the bytes fed, events in stream
/// order with offsets inside it, one resync per rejection, frames counted, non-empty and within
/// `maxFrame`, and the buffer within `bound`. Untimed framers must also report exactly the same
/// events and counters when the input comes as one read. `interesting` bytes (sync, delimiters,
/// escapes) make up half of the input so the framers' special paths are exercised.
func smokeFramer<F: BufferedFramer>(
    seed: UInt64, interesting: [UInt8], maxFrame: Int, bound: Int, timed: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation, _ make: (inout FramerSmokeGenerator) -> F
) {
    var random = FramerSmokeGenerator(seed: seed)
    var failures = 0
    var frames = 0
    var rejections = 0
    for _ in 0..<10_000 where failures < 3 {
        var framer = make(&random)
        let whole = framer
        let length = Int(random.next() % 300)
        let input: [UInt8] = (0..<length).map { _ in
            random.next() % 2 == 0 && !interesting.isEmpty
                ? interesting[Int(random.next() % UInt64(interesting.count))]
                : UInt8(truncatingIfNeeded: random.next())
        }
        var log = FramerLog()
        var index = 0
        var time: UInt64 = 0
        var largest = 0
        while index < input.count {
            let size = min(input.count - index, 1 + Int(random.next() % 40))
            time += random.next() % 4_000_000
            feedFramer(&framer, Array(input[index..<index + size]), at: timed ? time : 0, into: &log)
            largest = max(largest, framer.bufferedBytes)
            if timed && random.next() % 3 == 0 { flushFramer(&framer, at: time + random.next() % 4_000_000, into: &log) }
            index += size
        }
        let offsets = log.events.map(\.offset)
        let ok = framer.counters.bytes == UInt64(input.count)
            && zip(offsets, offsets.dropFirst()).allSatisfy { $0 <= $1 }
            && offsets.allSatisfy { $0 < UInt64(max(input.count, 1)) }
            && framer.counters.frames == UInt64(log.frames.count)
            && framer.counters.resyncs == UInt64(log.rejections.count)
            && log.frames.allSatisfy { !$0.isEmpty && $0.count <= maxFrame }
            && largest <= bound
        var inOneRead = whole
        let same = timed || (recordFraming(&inOneRead, [input]).events == log.events && inOneRead.counters == framer.counters)
        if !ok || !same {
            failures += 1
            Issue.record("input \(framerHexString(input)): \(log.events) counters \(framer.counters) buffer \(largest)", sourceLocation: sourceLocation)
        }
        frames += log.frames.count
        rejections += log.rejections.count
    }
    // The inputs must reach both paths often, or the pass proves little.
    #expect(frames >= 1000 && rejections >= 1000, "\(frames) frames, \(rejections) rejections", sourceLocation: sourceLocation)
}

/// The simulator's seeded generator, so random tests replay exactly.
typealias FramerSmokeGenerator = SerialBridgeSimulator.SplitMix64

/// Bytes from hex text with optional spaces, e.g. `"42 4D 00 1C"`. Test literals only.
func framerHex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") })
    precondition(digits.count % 2 == 0, "odd hex literal")
    return stride(from: 0, to: digits.count, by: 2).map { index in
        guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
            preconditionFailure("bad hex literal \(text)")
        }
        return byte
    }
}

/// Uppercase hex with spaces, for messages.
func framerHexString(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let text = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0" + text : text
    }.joined(separator: " ")
}

/// Reads a framing section from JSON text as the profile loader would (with `type` consumed) and
/// returns the configuration and every error message as `PATH: message`.
func readFraming<C: FramerConfiguration>(_ type: C.Type, _ json: String) -> (config: C?, errors: [String]) {
    let node: JSONNode
    do {
        node = try JSONDocument.parse(Array(json.utf8), file: "test.json")
    } catch {
        return (nil, ["unparsable: \(error)"])
    }
    var reader = JSONObjectReader(node, file: "test.json", path: "$.framing")
    #expect(reader.string("type") == C.type)
    let config = C(reading: &reader)
    return (config, reader.finish().map { "\($0.path): \($0.message)" })
}

/// Configurations are registered by these names; the lead adds them to `ParserRegistry`.
@Suite("Framer configuration names")
struct FramerConfigurationNameTests {
    @Test func typeNamesAreThoseProfilesUse() {
        let names: [any FramerConfiguration.Type] = [
            FixedLengthFraming.self, LengthFieldFraming.self, DelimiterFraming.self,
            SLIPFraming.self, COBSFraming.self, SilenceGapFraming.self,
        ]
        #expect(names.map { $0.type } == ["fixed", "length-field", "delimited", "slip", "cobs", "silence-gap"])
    }

    @Test func hexKeysAcceptPairsWithOptionalSpacesOnly() {
        #expect(readFraming(FixedLengthFraming.self, #"{"type": "fixed", "length": 4, "sync": "42 4d"}"#).config?.sync == [0x42, 0x4D])
        #expect(readFraming(FixedLengthFraming.self, #"{"type": "fixed", "length": 4, "sync": "424D"}"#).config?.sync == [0x42, 0x4D])
        for bad in ["4 2", "42 4", "", " ", "4G", "0x42"] {
            let result = readFraming(FixedLengthFraming.self, #"{"type": "fixed", "length": 4, "sync": "\#(bad)"}"#)
            #expect(result.config == nil, "\(bad)")
            #expect(result.errors == [#"$.framing.sync: must be pairs of hex digits, e.g. "42 4D""#], "\(bad)")
        }
        let long = readFraming(FixedLengthFraming.self, #"{"type": "fixed", "length": 64, "sync": "\#(String(repeating: "AA", count: 17))"}"#)
        #expect(long.errors == ["$.framing.sync: must be 1 to 16 bytes"])
    }

    @Test func maxLengthIsCheckedTheSameEverywhere() {
        for json in [
            #"{"type": "slip", "maxLength": 0}"#, #"{"type": "cobs", "maxLength": 2000000}"#,
            #"{"type": "silence-gap", "gapMs": 5, "maxLength": 1.5}"#,
        ] {
            let errors: [String] = switch json {
            case let text where text.contains("slip"): readFraming(SLIPFraming.self, text).errors
            case let text where text.contains("cobs"): readFraming(COBSFraming.self, text).errors
            default: readFraming(SilenceGapFraming.self, json).errors
            }
            #expect(errors == ["$.framing.maxLength: must be an integer from 1 to 1048576"])
        }
    }

    @Test func unknownKeysAreReported() {
        #expect(readFraming(SLIPFraming.self, #"{"type": "slip", "maxLenght": 10}"#).errors == ["$.framing.maxLenght: unknown key"])
    }
}
