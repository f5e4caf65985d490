import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeSimulator
import Testing

/// The simulator's seeded generator, so every smoke pass replays the same inputs on every machine.
typealias DecoderSmokeGenerator = SerialBridgeSimulator.SplitMix64

/// The outcome of reading a `decoding` section: the configuration, and the errors as
/// `JSON-PATH: message`.
struct ReadDecoding<Configuration: DecoderConfiguration> {
    var configuration: Configuration?
    var errors: [String]
}

/// Reads `json` as a profile's `decoding` section the way the profile loader does: `type` is
/// consumed first, then the configuration reads the rest, then unknown keys are reported.
func readDecoding<C: DecoderConfiguration>(_ type: C.Type, _ json: String) throws -> ReadDecoding<C> {
    let node = try JSONParser.parse(Array(json.utf8))
    var reader = JSONObjectReader(node, file: "test.json", path: "$.decoding")
    if reader.has("type") { #expect(reader.string("type") == C.type) }
    let configuration = C(reading: &reader)
    return ReadDecoding(configuration: configuration, errors: reader.finish().map { "\($0.path): \($0.message)" })
}

/// The errors of a section that must not read.
func decodingErrors<C: DecoderConfiguration>(_ type: C.Type, _ json: String) throws -> [String] {
    let read = try readDecoding(type, json)
    #expect(read.configuration == nil, "the section should not have been accepted")
    return read.errors
}

/// A section that must read without errors.
func decoding<C: DecoderConfiguration>(_ type: C.Type, _ json: String) throws -> C {
    let read = try readDecoding(type, json)
    #expect(read.errors.isEmpty, "\(read.errors)")
    guard let configuration = read.configuration else { throw DecoderTestFailure(message: "section rejected: \(read.errors)") }
    return configuration
}

struct DecoderTestFailure: Error { var message: String }

extension FrameDecoder {
    /// Decodes the UTF-8 bytes of `text`.
    func decode(_ text: String) -> Result<[Value?], DecodeError> { decode(Array(text.utf8)) }

    /// Decodes `bytes`.
    func decode(_ bytes: [UInt8]) -> Result<[Value?], DecodeError> { bytes.withUnsafeBytes { decode($0) } }
}

/// Bytes from hex text such as `"AA C0 D4"`; spaces ignored.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    var bytes: [UInt8] = []
    var index = 0
    while index + 1 < digits.count {
        if let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) {
            bytes.append(byte)
        } else {
            Issue.record("bad hex \(text)")
        }
        index += 2
    }
    return bytes
}

/// What a smoke pass saw.
struct DecoderSmokeResult {
    var decoded = 0
    var failed = 0
    /// Successful decodes that broke the decoder contract (wrong count, non-finite float).
    var contractViolations: [String] = []
}

/// Feeds `count` seeded frames to `decoder`: random bytes drawn from `alphabet` and from all
/// 256 values, and `valid` frames with one to four mutations (byte changes, insertions,
/// deletions, truncation, duplication). Asserts nothing itself beyond not crashing; the result
/// says what happened.
func smokeDecoder(
    _ decoder: any FrameDecoder, fieldCount: Int, valid: [[UInt8]], alphabet: [UInt8], seed: UInt64, count: Int = 10_000
) -> DecoderSmokeResult {
    var random = DecoderSmokeGenerator(seed: seed)
    var result = DecoderSmokeResult()
    func randomByte() -> UInt8 {
        Bool.random(using: &random) && !alphabet.isEmpty ? alphabet[Int.random(in: 0..<alphabet.count, using: &random)] : UInt8.random(in: 0...255, using: &random)
    }
    for round in 0..<count {
        var frame: [UInt8]
        if round % 4 == 0 || valid.isEmpty {
            frame = (0..<Int.random(in: 0...96, using: &random)).map { _ in randomByte() }
        } else {
            frame = valid[Int.random(in: 0..<valid.count, using: &random)]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = frame.isEmpty ? 0 : Int.random(in: 0..<frame.count, using: &random)
                switch Int.random(in: 0..<6, using: &random) {
                case 0 where !frame.isEmpty: frame[position] = randomByte()
                case 1: frame.insert(randomByte(), at: position)
                case 2 where !frame.isEmpty: frame.remove(at: position)
                case 3: frame = Array(frame.prefix(position))
                case 4 where !frame.isEmpty:
                    let end = Int.random(in: position...frame.count, using: &random)
                    frame.insert(contentsOf: frame[position..<end], at: position)
                default: if !frame.isEmpty { frame[position] ^= 1 << UInt8.random(in: 0...7, using: &random) }
                }
            }
        }
        switch decoder.decode(frame) {
        case .success(let values):
            result.decoded += 1
            if values.count != fieldCount { result.contractViolations.append("\(frame): \(values.count) values") }
            for case .float(let number)? in values where !number.isFinite {
                result.contractViolations.append("\(frame): non-finite \(number)")
            }
        case .failure(let error):
            result.failed += 1
            if error.message.isEmpty { result.contractViolations.append("\(frame): empty error message") }
        }
    }
    return result
}

/// Decodes each frame of a line-based stream through a whole ``DeviceParser``.
func parseDecoderLines(_ decoding: any DecoderConfiguration, _ text: String) -> (values: [[Value?]], errors: [String], counters: ParserCounters) {
    var parser = DeviceParser(spec: ParsingSpec(framing: LineFraming(), decoding: decoding))
    var values: [[Value?]] = []
    var errors: [String] = []
    Array(text.utf8).withUnsafeBytes { bytes in
        parser.feed(bytes) { values.append($0.values) } onRejection: { errors.append($0.message) }
    }
    return (values, errors, parser.counters)
}

/// True when `value` is a float within `tolerance` of `expected`.
func isClose(_ value: Value??, _ expected: Double, tolerance: Double = 1e-9) -> Bool {
    guard case .float(let number)?? = value else { return false }
    return abs(number - expected) <= tolerance
}
