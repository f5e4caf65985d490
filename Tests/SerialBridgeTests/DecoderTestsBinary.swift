import SerialBridgeParsing
import Testing

/// Vectors: the Nova SDS011 datasheet's example frame; IEEE 754 bit patterns from Python's
/// `struct` (`>f`, `>e`, `>d`); Modbus word orders from pymodbus 3.16.1
/// `convert_to_registers(…, word_order="little")` — sources independent of this decoder.
@Suite("binary decoding")
struct BinaryDecoderTests {
    /// Nova SDS011 laser dust sensor datasheet V1.3, "Data packet": AA C0 D4 04 3A 0A A1 60 1D AB
    /// means PM2.5 = 0x04D4 / 10 = 123.6 µg/m³ and PM10 = 0x0A3A / 10 = 261.8 µg/m³; byte 8 is
    /// the low byte of the sum of bytes 2…7.
    static let sds011Frame = hexBytes("AA C0 D4 04 3A 0A A1 60 1D AB")
    static let sds011 = #"""
        {
          "type": "binary",
          "endianness": "little",
          "fields": [
            { "name": "pm25", "at": 2, "format": "u16", "scale": 0.1, "unit": "µg/m³" },
            { "name": "pm10", "at": 4, "format": "u16", "scale": 0.1, "unit": "µg/m³" },
            { "name": "id", "at": 6, "format": "u16", "endianness": "big" },
            { "name": "checksum", "at": -2, "format": "u8", "skip": true },
            { "name": "tail", "at": -1, "format": "u8", "skip": true }
          ]
        }
        """#

    func decode(_ json: String, _ bytes: [UInt8]) throws -> Result<[Value?], DecodeError> {
        try decoding(BinaryDecoding.self, json).makeDecoder().decode(bytes)
    }

    func field(_ keys: String, type: String? = nil) -> String {
        let typeKey = type.map { #", "type": "\#($0)""# } ?? ""
        let layoutKeys = keys.isEmpty ? "" : ", " + keys
        return #"{"fields": [{"name": "x"\#(layoutKeys)\#(typeKey)}]}"#
    }

    @Test func theSDS011DatasheetFrame() throws {
        let configuration = try decoding(BinaryDecoding.self, Self.sds011)
        let values = try configuration.makeDecoder().decode(Self.sds011Frame).get()
        #expect(values == [.integer(1236), .integer(2618), .integer(0xA160), .integer(0x1D), .integer(0xAB)])
        #expect(Self.sds011Frame[2...7].reduce(0) { $0 + Int($1) } & 0xFF == 0x1D)
        // Scale is applied after decoding, by the field.
        guard case .float(let pm25) = configuration.fields[0].finish(.integer(1236)).value else { throw DecoderTestFailure(message: "pm25") }
        #expect(abs(pm25 - 123.6) < 1e-9)
        guard case .float(let pm10) = configuration.fields[1].finish(.integer(2618)).value else { throw DecoderTestFailure(message: "pm10") }
        #expect(abs(pm10 - 261.8) < 1e-9)
    }

    @Test func unsignedAndSignedIntegers() throws {
        let bytes = hexBytes("FF FE 80 00 00 01 32 EB F8 A4")
        #expect(try decode(field(#""at": 0, "format": "u16""#), bytes).get() == [.integer(0xFFFE)])
        #expect(try decode(field(#""at": 0, "format": "i16""#), bytes).get() == [.integer(-2)])
        #expect(try decode(field(#""at": 0, "format": "i16", "endianness": "little""#), bytes).get() == [.integer(-257)])
        #expect(try decode(field(#""at": 2, "format": "i8""#), bytes).get() == [.integer(-128)])
        #expect(try decode(field(#""at": 2, "format": "u8""#), bytes).get() == [.integer(128)])
        #expect(try decode(field(#""at": 2, "format": "u32""#), bytes).get() == [.integer(0x8000_0001)])
        #expect(try decode(field(#""at": 2, "format": "i32""#), bytes).get() == [.integer(-2_147_483_647)])
        // pymodbus: -123456789 as INT32, word_order little -> registers 0x32EB, 0xF8A4.
        #expect(try decode(field(#""at": 6, "format": "i32", "wordOrder": "little""#), bytes).get() == [.integer(-123_456_789)])
    }

    @Test func sixtyFourBitIntegers() throws {
        let big = hexBytes("01 02 03 04 05 06 07 08")
        #expect(try decode(field(#""at": 0, "format": "u64""#), big).get() == [.integer(0x0102_0304_0506_0708)])
        #expect(try decode(field(#""at": 0, "format": "u64", "endianness": "little""#), big).get() == [.integer(0x0807_0605_0403_0201)])
        // pymodbus: 0x0102030405060708 as UINT64, word_order little -> 0x0708 0x0506 0x0304 0x0102.
        let swapped = hexBytes("07 08 05 06 03 04 01 02")
        #expect(try decode(field(#""at": 0, "format": "u64", "wordOrder": "little""#), swapped).get() == [.integer(0x0102_0304_0506_0708)])
        let minusOne = hexBytes("FF FF FF FF FF FF FF FF")
        #expect(try decode(field(#""at": 0, "format": "i64""#), minusOne).get() == [.integer(-1)])
        #expect(throws: DecodeError(#"field "x": u64 value 18446744073709551615 at 0 exceeds the integer range"#)) {
            try decode(field(#""at": 0, "format": "u64""#), minusOne).get()
        }
        #expect(try decode(field(#""at": 0, "format": "u64""#, type: "float"), minusOne).get() == [.float(Double(UInt64.max))])
        #expect(try decode(field(#""at": 0, "format": "u64", "bits": {"from": 1, "count": 63}"#), minusOne).get() == [.integer(Int64.max)])
    }

    @Test func wordOrderSwapsSixteenBitWords() throws {
        // The brief's example, and pymodbus: 0xEF01ABCD as UINT32, word_order little -> 0xABCD, 0xEF01.
        let bytes = hexBytes("AB CD EF 01")
        #expect(try decode(field(#""at": 0, "format": "u32", "wordOrder": "little""#), bytes).get() == [.integer(0xEF01_ABCD)])
        #expect(try decode(field(#""at": 0, "format": "u32""#), bytes).get() == [.integer(0xABCD_EF01)])
        #expect(try decode(field(#""at": 0, "format": "u32", "endianness": "little""#), bytes).get() == [.integer(0x01EF_CDAB)])
        // Little endianness with swapped words is the remaining Modbus order, "BADC".
        #expect(try decode(field(#""at": 0, "format": "u32", "endianness": "little", "wordOrder": "little""#), bytes).get() == [.integer(0xCDAB_01EF)])
    }

    @Test func ieeeFloatsInEveryByteOrder() throws {
        // struct.pack('>f', 3.14) == 40 48 F5 C3.
        for (bytes, keys) in [
            ("40 48 F5 C3", ""),
            ("C3 F5 48 40", #", "endianness": "little""#),
            ("F5 C3 40 48", #", "wordOrder": "little""#),  // pymodbus FLOAT32 word_order little: 0xF5C3, 0x4048
            ("48 40 C3 F5", #", "endianness": "little", "wordOrder": "little""#),
        ] {
            let values = try decode(field(#""at": 0, "format": "f32"\#(keys)"#), hexBytes(bytes)).get()
            #expect(values == [.float(Double(Float(3.14)))], "\(bytes)")
            #expect(isClose(values.first, 3.14, tolerance: 1e-6))
        }
        // struct.pack('>d', math.pi) == 40 09 21 FB 54 44 2D 18; pymodbus FLOAT64 word_order little reverses the words.
        #expect(try decode(field(#""at": 0, "format": "f64""#), hexBytes("40 09 21 FB 54 44 2D 18")).get() == [.float(Double.pi)])
        #expect(try decode(field(#""at": 0, "format": "f64", "wordOrder": "little""#), hexBytes("2D 18 54 44 21 FB 40 09")).get() == [.float(Double.pi)])
    }

    @Test func halfPrecisionFloatsAreComputedFromTheirBits() throws {
        for (bits, expected) in [
            ("3C 00", 1.0), ("C0 00", -2.0), ("7B FF", 65504.0), ("00 01", 0x1p-24), ("03 FF", 1023 * 0x1p-24),
            ("35 55", 0.333251953125), ("00 00", 0.0), ("80 00", -0.0), ("04 00", 0x1p-14),
        ] {
            #expect(try decode(field(#""at": 0, "format": "f16""#), hexBytes(bits)).get() == [.float(expected)], "\(bits)")
        }
        #expect(try decode(field(#""at": 0, "format": "f16", "endianness": "little""#), hexBytes("00 3C")).get() == [.float(1)])
    }

    @Test func nanIsNilAndInfinityIsAnError() throws {
        #expect(try decode(field(#""at": 0, "format": "f16""#), hexBytes("7E 00")).get() == [nil])
        #expect(try decode(field(#""at": 0, "format": "f32""#), hexBytes("7F C0 00 00")).get() == [nil])
        #expect(throws: DecodeError(#"field "x": f16 at 0 is infinite"#)) { try decode(field(#""at": 0, "format": "f16""#), hexBytes("7C 00")).get() }
        #expect(throws: DecodeError(#"field "x": f32 at 0 is infinite"#)) { try decode(field(#""at": 0, "format": "f32""#), hexBytes("FF 80 00 00")).get() }
    }

    @Test func bitFieldsOfUnsignedIntegers() throws {
        let status = hexBytes("A0 05")  // 1010 0000 0000 0101
        #expect(try decode(field(#""at": 0, "format": "u16", "bits": {"from": 0}"#), status).get() == [.integer(1)])
        #expect(try decode(field(#""at": 0, "format": "u16", "bits": {"from": 1}"#), status).get() == [.integer(0)])
        #expect(try decode(field(#""at": 0, "format": "u16", "bits": {"from": 13, "count": 3}"#), status).get() == [.integer(5)])
        #expect(try decode(field(#""at": 0, "format": "u16", "bits": {"from": 0, "count": 4}"#), status).get() == [.integer(5)])
        #expect(try decode(field(#""at": 0, "format": "u16", "bits": {"from": 15}"#, type: "boolean"), status).get() == [.boolean(true)])
        #expect(try decode(field(#""at": 0, "format": "u16", "bits": {"from": 14}"#, type: "boolean"), status).get() == [.boolean(false)])
        #expect(try decode(field(#""at": 1, "format": "u8", "bits": {"from": 2, "count": 6}"#), status).get() == [.integer(1)])
    }

    @Test func packedBCD() throws {
        let bytes = hexBytes("12 34 00 56 1A")
        #expect(try decode(field(#""at": 0, "format": "bcd", "length": 2"#), bytes).get() == [.integer(1234)])
        #expect(try decode(field(#""at": 0, "format": "bcd", "length": 2, "endianness": "little""#), bytes).get() == [.integer(3412)])
        #expect(try decode(field(#""at": 2, "format": "bcd", "length": 2"#, type: "string"), bytes).get() == [.string("0056")])
        #expect(try decode(field(#""at": 2, "format": "bcd", "length": 2"#, type: "float"), bytes).get() == [.float(56)])
        #expect(throws: DecodeError(#"field "x": byte 0x1A at 4 is not packed BCD"#)) {
            try decode(field(#""at": -2, "format": "bcd", "length": 2"#), bytes).get()
        }
        let huge = [UInt8](repeating: 0x99, count: 10)
        #expect(throws: DecodeError(#"field "x": bcd value 99999999999999999999 at 0 exceeds the integer range"#)) {
            try decode(field(#""at": 0, "format": "bcd", "length": 10"#), huge).get()
        }
        #expect(try decode(field(#""at": 0, "format": "bcd", "length": 10"#, type: "string"), huge).get() == [.string("99999999999999999999")])
    }

    @Test func negativeOffsetsCountFromTheEnd() throws {
        let bytes = hexBytes("01 02 03 04")
        #expect(try decode(field(#""at": -1, "format": "u8""#), bytes).get() == [.integer(4)])
        #expect(try decode(field(#""at": -2, "format": "u16""#), bytes).get() == [.integer(0x0304)])
        #expect(try decode(field(#""at": -4, "format": "u32""#), bytes).get() == [.integer(0x0102_0304)])
    }

    @Test func aShortFrameIsAnErrorNamingFieldFormatAndOffset() throws {
        let json = #"{"fields": [{"name": "a", "at": 0, "format": "u8"}, {"name": "x", "at": 30, "format": "u16"}]}"#
        #expect(throws: DecodeError(#"field "x": frame of 10 bytes is too short for u16 at 30"#)) { try decode(json, Self.sds011Frame).get() }
        #expect(throws: DecodeError(#"field "x": frame of 1 bytes is too short for u16 at 0"#)) { try decode(field(#""at": 0, "format": "u16""#), [1]).get() }
        #expect(throws: DecodeError(#"field "x": frame of 3 bytes is too short for u32 at -4"#)) { try decode(field(#""at": -4, "format": "u32""#), [1, 2, 3]).get() }
        #expect(throws: DecodeError(#"field "x": frame of 0 bytes is too short for u8 at -1"#)) { try decode(field(#""at": -1, "format": "u8""#), []).get() }
        #expect(throws: DecodeError(#"field "x": frame of 3 bytes is too short for bcd of 4 bytes at 0"#)) {
            try decode(field(#""at": 0, "format": "bcd", "length": 4"#), [1, 2, 3]).get()
        }
    }

    @Test func typesDefaultByFormat() throws {
        let configuration = try decoding(
            BinaryDecoding.self,
            #"{"fields": [{"name": "a", "at": 0, "format": "u8"}, {"name": "b", "at": 0, "format": "f16"}, {"name": "c", "at": 0, "format": "bcd", "length": 1}, {"name": "d", "at": 0, "format": "i8", "type": "float"}]}"#
        )
        #expect(configuration.fields.map(\.type) == [.integer, .float, .integer, .float])
        #expect(try configuration.makeDecoder().decode([0x12, 0x34]).get() == [.integer(0x12), .float(1588 * 0x1p-21), .integer(12), .float(18)])
    }

    @Test func sectionDefaultsApplyAndFieldsOverride() throws {
        let configuration = try decoding(
            BinaryDecoding.self,
            #"{"endianness": "little", "wordOrder": "little", "fields": [{"name": "a", "at": 0, "format": "u16"}, {"name": "b", "at": 0, "format": "u32", "endianness": "big"}]}"#
        )
        #expect(configuration.layouts[0] == BinaryFieldLayout(at: 0, format: .u16, endianness: .little, wordOrder: .little))
        #expect(configuration.layouts[1] == BinaryFieldLayout(at: 0, format: .u32, endianness: .big, wordOrder: .little))
        #expect(try configuration.makeDecoder().decode(hexBytes("AB CD EF 01")).get() == [.integer(0xCDAB), .integer(0xEF01_ABCD)])
    }

    @Test func configurationMistakesAreLocated() throws {
        let cases: [(String, [String])] = [
            (field(""), ["$.decoding.fields[0].at: is required", "$.decoding.fields[0].format: is required"]),
            (field(#""at": 0, "format": "u24""#), [#"$.decoding.fields[0].format: must be one of "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f16", "f32", "f64", "bcd", not "u24""#]),
            (field(#""at": 2000000, "format": "u8""#), ["$.decoding.fields[0].at: must be an integer from -1048576 to 1048575"]),
            (field(#""at": 0, "format": "i16", "bits": {"from": 0}"#), ["$.decoding.fields[0].bits: applies to unsigned formats (u8, u16, u32, u64) only, not i16"]),
            (field(#""at": 0, "format": "u8", "bits": {"from": 8}"#), ["$.decoding.fields[0].bits.from: must be below 8 for u8"]),
            (field(#""at": 0, "format": "u8", "bits": {"from": 4, "count": 5}"#), ["$.decoding.fields[0].bits.count: must be at most 4: bits 4+5 exceed the 8 bits of u8"]),
            (field(#""at": 0, "format": "u8", "bits": {"count": 1}"#), ["$.decoding.fields[0].bits.from: is required"]),
            (field(#""at": 0, "format": "u8", "bits": {"from": 0, "to": 1}"#), ["$.decoding.fields[0].bits.to: unknown key"]),
            (field(#""at": 0, "format": "u16", "length": 2"#), ["$.decoding.fields[0].length: applies to bcd only; u16 is 2 bytes"]),
            (field(#""at": 0, "format": "bcd""#), ["$.decoding.fields[0].length: is required for bcd (bytes, 2 digits each)"]),
            (field(#""at": 0, "format": "bcd", "length": 17"#), ["$.decoding.fields[0].length: must be an integer from 1 to 16"]),
            (field(#""at": 0, "format": "u16", "wordOrder": "little""#), ["$.decoding.fields[0].wordOrder: applies to 32- and 64-bit formats only, not u16"]),
            (field(#""at": 0, "format": "u32", "endianness": "middle""#), [#"$.decoding.fields[0].endianness: must be one of "big", "little", not "middle""#]),
            (field(#""at": 0, "format": "u16""#, type: "string"), [#"$.decoding.fields[0].type: must be one of "integer", "float", "boolean" for u16, not "string""#]),
            (field(#""at": 0, "format": "f32""#, type: "integer"), [#"$.decoding.fields[0].type: must be one of "float" for f32, not "integer""#]),
            (field(#""at": 0, "format": "bcd", "length": 1"#, type: "boolean"), [#"$.decoding.fields[0].type: must be one of "integer", "float", "string" for bcd, not "boolean""#]),
            (#"{"fields": [{"name": "a", "at": 0, "format": "u8"}, {"name": "a", "at": 1, "format": "u8"}]}"#, [#"$.decoding.fields[1].name: duplicate field name "a""#]),
            (#"{"wordOrder": "big-endian", "fields": [{"name": "a", "at": 0, "format": "u8"}]}"#, [#"$.decoding.wordOrder: must be one of "big", "little", not "big-endian""#]),
        ]
        for (json, expected) in cases {
            #expect(try decodingErrors(BinaryDecoding.self, json) == expected, "\(json)")
        }
    }

    @Test func seededRandomFramesNeverCrash() throws {
        let configuration = try decoding(
            BinaryDecoding.self,
            #"""
            {"fields": [
              {"name": "a", "at": 0, "format": "u8"},
              {"name": "b", "at": 1, "format": "i16", "endianness": "little"},
              {"name": "c", "at": 2, "format": "u32", "wordOrder": "little"},
              {"name": "d", "at": -8, "format": "f64"},
              {"name": "e", "at": -4, "format": "f32"},
              {"name": "f", "at": 3, "format": "f16"},
              {"name": "g", "at": 1, "format": "u64"},
              {"name": "h", "at": -3, "format": "bcd", "length": 3},
              {"name": "i", "at": 4, "format": "u16", "bits": {"from": 3, "count": 5}},
              {"name": "j", "at": 0, "format": "i64", "endianness": "little"}
            ]}
            """#
        )
        let valid = [Self.sds011Frame + [0x12, 0x34, 0x56], hexBytes("00 11 22 33 44 55 66 77 88 99 00 12 34 56")]
        let result = smokeDecoder(configuration.makeDecoder(), fieldCount: 10, valid: valid, alphabet: [0x00, 0xFF, 0x7F, 0x80, 0x99, 0x7C, 0x7E], seed: 0x5EED_0006)
        #expect(result.contractViolations.isEmpty)
        #expect(result.decoded > 0)
        #expect(result.failed > 0)
    }
}
