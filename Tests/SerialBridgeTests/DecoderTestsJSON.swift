import SerialBridgeParsing
import Testing

@Suite("JSON decoding")
struct JSONDecoderTests {
    static let station = #"""
        {
          "type": "json",
          "fields": [
            { "name": "temperature", "path": "env.temp", "unit": "°C" },
            { "name": "humidity", "path": "env.hum", "type": "integer" },
            { "name": "third", "path": "readings[2].v" },
            { "name": "ok", "type": "boolean" },
            { "name": "id", "type": "string" }
          ]
        }
        """#

    static let frame = #"{"id":"ws-1","env":{"temp":21.5,"hum":40},"readings":[{"v":1},{"v":2},{"v":3.25}],"ok":true}"#

    @Test func pathsReachNestedObjectsAndArrays() throws {
        let decoder = try decoding(JSONDecoding.self, Self.station).makeDecoder()
        #expect(try decoder.decode(Self.frame).get() == [.float(21.5), .integer(40), .float(3.25), .boolean(true), .string("ws-1")])
    }

    @Test func pathsDefaultToTheFieldName() throws {
        let configuration = try decoding(JSONDecoding.self, Self.station)
        #expect(configuration.paths.map(\.description) == ["env.temp", "env.hum", "readings[2].v", "ok", "id"])
        #expect(configuration.paths[2].steps == [.key("readings"), .index(2), .key("v")])
    }

    @Test func aMissingPathOrNullIsNil() throws {
        let decoder = try decoding(JSONDecoding.self, Self.station).makeDecoder()
        #expect(try decoder.decode(#"{"env":{"temp":null},"readings":[{"v":1}],"ok":null}"#).get() == [nil, nil, nil, nil, nil])
        #expect(try decoder.decode(#"{"env":[1,2],"readings":{"2":{"v":1}},"id":"x"}"#).get() == [nil, nil, nil, nil, .string("x")])
        #expect(try decoder.decode("{}").get() == [nil, nil, nil, nil, nil])
    }

    @Test func nestedIndexesAndWhitespaceWork() throws {
        let decoder = try decoding(JSONDecoding.self, #"{"fields": [{"name": "m", "path": "grid[1][0]", "type": "integer"}]}"#).makeDecoder()
        #expect(try decoder.decode(" {\"grid\": [[1, 2], [3, 4]]}\r\n ").get() == [.integer(3)])
    }

    @Test func integersAcceptWholeFloatsOnly() throws {
        let decoder = try decoding(JSONDecoding.self, Self.station).makeDecoder()
        #expect(try decoder.decode(#"{"env":{"hum":40.0}}"#).get()[1] == .integer(40))
        #expect(try decoder.decode(#"{"env":{"hum":4e1}}"#).get()[1] == .integer(40))
        #expect(throws: DecodeError(#"field "humidity": 40.5 at env.hum is not an integer"#)) {
            try decoder.decode(#"{"env":{"hum":40.5}}"#).get()
        }
        #expect(throws: DecodeError(#"field "humidity": 1e+20 at env.hum is not an integer"#)) {
            try decoder.decode(#"{"env":{"hum":1e20}}"#).get()
        }
    }

    @Test func floatsAcceptIntegers() throws {
        let decoder = try decoding(JSONDecoding.self, Self.station).makeDecoder()
        #expect(try decoder.decode(#"{"env":{"temp":-3}}"#).get()[0] == .float(-3))
    }

    @Test func theWrongJSONTypeIsAnErrorNamingTheField() throws {
        let decoder = try decoding(JSONDecoding.self, Self.station).makeDecoder()
        #expect(throws: DecodeError(#"field "temperature": expected a number at env.temp, found a string"#)) {
            try decoder.decode(#"{"env":{"temp":"21.5"}}"#).get()
        }
        #expect(throws: DecodeError(#"field "id": expected a string at id, found a number"#)) {
            try decoder.decode(#"{"id":7}"#).get()
        }
        #expect(throws: DecodeError(#"field "third": expected a number at readings[2].v, found an object"#)) {
            try decoder.decode(#"{"readings":[0,0,{"v":{}}]}"#).get()
        }
        #expect(throws: DecodeError(#"field "ok": expected a boolean at ok, found a number"#)) {
            try decoder.decode(#"{"ok":2}"#).get()
        }
    }

    @Test func booleansAcceptZeroAndOne() throws {
        let decoder = try decoding(JSONDecoding.self, Self.station).makeDecoder()
        #expect(try decoder.decode(#"{"ok":1}"#).get()[3] == .boolean(true))
        #expect(try decoder.decode(#"{"ok":0}"#).get()[3] == .boolean(false))
    }

    @Test func invalidJSONGivesTheParsersReason() throws {
        let decoder = try decoding(JSONDecoding.self, Self.station).makeDecoder()
        #expect(throws: DecodeError("invalid JSON: unexpected end at byte 5")) { try decoder.decode(#"{"a":"#).get() }
        #expect(throws: DecodeError("invalid JSON: unexpected data after the document at byte 3")) { try decoder.decode("{} {}").get() }
        #expect(throws: DecodeError("invalid JSON: invalid UTF-8 in string at byte 4")) {
            try decoder.decode([0x7B, 0x22, 0xFF, 0x22]).get()
        }
        #expect(throws: DecodeError("frame must be a JSON object, not an array")) { try decoder.decode("[1]").get() }
    }

    @Test func deeplyNestedFramesAreRefusedNotOverflowed() throws {
        let decoder = try decoding(JSONDecoding.self, Self.station).makeDecoder()
        let deep = String(repeating: "[", count: 10_000)
        #expect(throws: DecodeError("invalid JSON: nested too deeply at byte 32")) { try decoder.decode(deep).get() }
    }

    @Test func pathSyntaxIsChecked() {
        for (text, message) in [
            ("a..b", #"empty key in path "a..b""#),
            ("[0]", #"empty key in path "[0]""#),
            ("a[x]", #"index "x" in path "a[x]" is not an integer from 0 to 1000000"#),
            ("a[-1]", #"index "-1" in path "a[-1]" is not an integer from 0 to 1000000"#),
            ("a[1", #"expected '[index]' in path "a[1""#),
            ("a[1]b", #"expected '[index]' in path "a[1]b""#),
            ("a]", #"unexpected ']' in path "a]""#),
        ] {
            #expect(throws: JSONFieldPathError(message), "\(text)") { try JSONFieldPath.parse(text).get() }
        }
    }

    @Test func configurationMistakesAreLocated() throws {
        #expect(
            try decodingErrors(JSONDecoding.self, #"{"fields": [{"name": "a", "path": "x..y"}, {"name": "a"}]}"#)
                == [#"$.decoding.fields[0].path: empty key in path "x..y""#, #"$.decoding.fields[1].name: duplicate field name "a""#]
        )
        #expect(
            try decodingErrors(JSONDecoding.self, #"{"fields": [{"name": "b[x]"}]}"#)
                == [#"$.decoding.fields[0].name: index "x" in path "b[x]" is not an integer from 0 to 1000000; set "path" to the key, e.g. "a.b""#]
        )
        #expect(try decodingErrors(JSONDecoding.self, #"{"fields": [{"name": "a", "path": 3}]}"#) == ["$.decoding.fields[0].path: must be a string, not a number"])
    }

    @Test func theProgrammaticInitializerParsesPaths() throws {
        let configuration = try JSONDecoding(fields: [FieldSpec(name: "t"), FieldSpec(name: "n", type: .integer)], paths: ["a.t", "n"])
        #expect(try configuration.makeDecoder().decode(#"{"a":{"t":1.5},"n":2}"#).get() == [.float(1.5), .integer(2)])
        #expect(throws: JSONFieldPathError.self) { try JSONDecoding(fields: [FieldSpec(name: "t")], paths: ["a."]) }
    }

    @Test func seededRandomFramesNeverCrash() throws {
        let configuration = try decoding(JSONDecoding.self, Self.station)
        let valid = [Self.frame, #"{"env":{"temp":-1e3,"hum":0},"ok":false}"#, #"{"readings":[null,[],{"v":"s"}],"id":"\u00e9"}"#].map { Array($0.utf8) }
        let result = smokeDecoder(
            configuration.makeDecoder(), fieldCount: 5, valid: valid, alphabet: Array(#"{}[]":,.-0123456789eE truefalsnl\"#.utf8),
            seed: 0x5EED_0003
        )
        #expect(result.contractViolations.isEmpty)
        #expect(result.decoded > 0)
        #expect(result.failed > 0)
    }
}
