import SerialBridgeParsing
import SerialBridgeProfiles
import Testing

@Suite("CSV decoding")
struct DelimitedDecoderTests {
    let profile: DeviceProfile

    init() throws {
        profile = try ProfileLoader.load(file: Repository.profiles + "/generic-csv-lines.json")
    }

    func feed(_ text: String) -> (values: [[Value?]], errors: [String], parser: DeviceParser) {
        var parser = DeviceParser(spec: profile.parsing)
        var values: [[Value?]] = []
        var errors: [String] = []
        Array(text.utf8).withUnsafeBytes { bytes in
            parser.feed(bytes) { values.append($0.values) } onRejection: { errors.append($0.message) }
        }
        return (values, errors, parser)
    }

    @Test func decodesNamedTypedValues() {
        let result = feed("21.5,40.2\r\n-3,100\n")
        #expect(result.values == [[.float(21.5), .float(40.2)], [.float(-3), .float(100)]])
        #expect(result.parser.outputFields.map(\.name) == ["temperature", "humidity"])
        #expect(result.parser.outputFields.map(\.unit) == ["°C", "%"])
    }

    @Test func nonNumericFieldIsADecodeErrorNotACrash() {
        let result = feed("21.5,abc\r\n22.0,41.0\r\n")
        #expect(result.values == [[.float(22.0), .float(41.0)]])
        #expect(result.errors == [#"field "humidity": "abc" is not a valid float"#])
        #expect(result.parser.counters.decodeErrors == 1)
        #expect(result.parser.counters.readings == 1)
    }

    @Test func wrongColumnCountsAreErrors() {
        let result = feed("1\n1,2,3\n,\nnan,1\ninf,2\n")
        #expect(result.values.isEmpty)
        #expect(result.parser.counters.decodeErrors == 5)
        #expect(result.errors[0] == "expected 2 fields, found 1")
        #expect(result.errors[1] == "expected 2 fields, found more")
    }

    @Test func quotedColumnsMayHoldDelimitersAndQuotes() throws {
        let spec = DelimitedDecoding(fields: [FieldSpec(name: "label", type: .string), FieldSpec(name: "n", type: .integer)])
        let decoder = spec.makeDecoder()
        func decode(_ text: String) -> Result<[Value?], DecodeError> { Array(text.utf8).withUnsafeBytes { decoder.decode($0) } }
        #expect(try decode(#""a, ""b""",7"#).get() == [.string(#"a, "b""#), .integer(7)])
        #expect(throws: DecodeError("column 0: unterminated quote")) { try decode(#""abc,1"#).get() }
        #expect(throws: DecodeError("column 0: text after closing quote")) { try decode(#""a"x,1"#).get() }
    }

    @Test func spacesAroundFieldsAreIgnored() {
        #expect(feed(" 21.5 ,\t40\n").values == [[.float(21.5), .float(40)]])
    }

    @Test func garbageBytesNeverCrash() {
        var random = SystemRandomNumberGenerator()
        var parser = DeviceParser(spec: profile.parsing)
        var count = 0
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            bytes.withUnsafeBytes { parser.feed($0) { _ in count += 1 } }
        }
        #expect(parser.counters.readings == UInt64(count))
    }
}
