import SerialBridgeParsing
import Testing

@Suite("regex decoding")
struct RegexDecoderTests {
    static let weather = #"""
        {
          "type": "regex",
          "pattern": "^T=(?<temperature>-?[0-9.]+)C H=(?<hum>[0-9]+)% (?<state>OK|FAIL)$",
          "fields": [
            { "name": "temperature", "unit": "°C" },
            { "name": "humidity", "group": "hum", "type": "integer" },
            { "name": "state", "type": "string" }
          ]
        }
        """#

    @Test func namedGroupsBecomeTypedValues() throws {
        let decoder = try decoding(RegexDecoding.self, Self.weather).makeDecoder()
        #expect(try decoder.decode("T=21.5C H=40% OK").get() == [.float(21.5), .integer(40), .string("OK")])
        #expect(try decoder.decode("T=-3C H=100% FAIL").get() == [.float(-3), .integer(100), .string("FAIL")])
    }

    @Test func groupDefaultsToTheFieldNameAndCanBeSet() throws {
        let configuration = try decoding(RegexDecoding.self, Self.weather)
        #expect(configuration.groups == ["temperature", "hum", "state"])
        #expect(configuration.fields.map(\.name) == ["temperature", "humidity", "state"])
        #expect(configuration.fields.map(\.unit) == ["°C", nil, nil])
    }

    @Test func anAnchoredPatternMustCoverTheFrame() throws {
        let decoder = try decoding(RegexDecoding.self, Self.weather).makeDecoder()
        #expect(throws: DecodeError("no match for pattern")) { try decoder.decode("> T=21.5C H=40% OK").get() }
        #expect(throws: DecodeError("no match for pattern")) { try decoder.decode("").get() }
    }

    @Test func anUnanchoredPatternUsesTheFirstMatchAnywhere() throws {
        let decoder = try decoding(
            RegexDecoding.self,
            #"{"pattern": "V=(?<v>[0-9]+)", "fields": [{"name": "v", "type": "integer"}]}"#
        ).makeDecoder()
        #expect(try decoder.decode("noise V=12 then V=34").get() == [.integer(12)])
    }

    @Test func anAbsentOrEmptyOptionalGroupIsNil() throws {
        let decoder = try decoding(
            RegexDecoding.self,
            #"""
            {"pattern": "^P=(?<p>[0-9.]*)(?:;E=(?<e>[0-9]+))?$",
             "fields": [{"name": "p"}, {"name": "e", "type": "integer"}]}
            """#
        ).makeDecoder()
        #expect(try decoder.decode("P=1013.2;E=7").get() == [.float(1013.2), .integer(7)])
        #expect(try decoder.decode("P=1013.2").get() == [.float(1013.2), nil])
        #expect(try decoder.decode("P=").get() == [nil, nil])
    }

    @Test func aFrameWithNoValuesIsIgnoredByTheParser() throws {
        let configuration = try decoding(
            RegexDecoding.self,
            #"{"pattern": "(?:ERR=(?<err>[0-9]+))?", "fields": [{"name": "err", "type": "integer"}]}"#
        )
        let result = parseDecoderLines(configuration, "hello\nERR=5\n")
        #expect(result.values == [[.integer(5)]])
        #expect(result.counters.ignoredFrames == 1)
    }

    @Test func aGroupThatDoesNotParseNamesTheField() throws {
        let decoder = try decoding(
            RegexDecoding.self,
            #"{"pattern": "^(?<count>\\S+)$", "fields": [{"name": "count", "type": "integer"}]}"#
        ).makeDecoder()
        #expect(throws: DecodeError(#"field "count": "4x" is not a valid integer"#)) { try decoder.decode("4x").get() }
    }

    @Test func configurationMistakesAreLocated() throws {
        #expect(
            try decodingErrors(RegexDecoding.self, #"{"pattern": "(?<a>[0-9]+", "fields": [{"name": "a"}]}"#)
                == ["$.decoding.pattern: invalid pattern: expected ')'"]
        )
        #expect(
            try decodingErrors(RegexDecoding.self, #"{"pattern": "(?<a>x)", "fields": [{"name": "b"}]}"#)
                == [#"$.decoding.fields[0].name: the pattern has no capture group named "b"; name a group (?<b>…) or set "group""#]
        )
        #expect(
            try decodingErrors(RegexDecoding.self, #"{"pattern": "(?<a>x)", "fields": [{"name": "b", "group": "c"}]}"#)
                == [#"$.decoding.fields[0].group: the pattern has no capture group named "c""#]
        )
        #expect(
            try decodingErrors(RegexDecoding.self, #"{"pattern": "(?<a>x)", "fields": [{"name": "a"}, {"name": "a"}]}"#)
                == [#"$.decoding.fields[1].name: duplicate field name "a""#]
        )
        #expect(
            try decodingErrors(RegexDecoding.self, #"{"fields": [{"name": "a"}], "patern": "x"}"#)
                == ["$.decoding.pattern: is required", "$.decoding.patern: unknown key"]
        )
        #expect(
            try decodingErrors(RegexDecoding.self, #"{"pattern": "x", "fields": []}"#)
                == ["$.decoding.fields: must list at least one field"]
        )
        #expect(
            try decodingErrors(RegexDecoding.self, #"{"pattern": "(?<a>x)", "fields": [{"name": "a", "group": ""}]}"#)
                == ["$.decoding.fields[0].group: must not be empty"]
        )
    }

    @Test func theProgrammaticInitializerChecksToo() throws {
        #expect(throws: RegexDecodingError.self) { try RegexDecoding(pattern: "(", fields: [FieldSpec(name: "a")]) }
        #expect(throws: RegexDecodingError(message: #"the pattern has no capture group named "a""#)) {
            try RegexDecoding(pattern: "(?<b>x)", fields: [FieldSpec(name: "a")])
        }
        let configuration = try RegexDecoding(pattern: "(?<b>[0-9]+)", fields: [FieldSpec(name: "a", type: .integer)], groups: ["b"])
        #expect(try configuration.makeDecoder().decode("x42").get() == [.integer(42)])
        #expect(try configuration == RegexDecoding(pattern: "(?<b>[0-9]+)", fields: [FieldSpec(name: "a", type: .integer)], groups: ["b"]))
    }

    @Test func decodersShareTheCompiledPatternAcrossTasks() async throws {
        let decoder = try decoding(RegexDecoding.self, Self.weather).makeDecoder()
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<8 {
                group.addTask {
                    (0..<200).allSatisfy { step in
                        let value = index * 1000 + step
                        return (try? decoder.decode("T=\(value)C H=1% OK").get().first) == .some(.float(Double(value)))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }

    @Test func seededRandomFramesNeverCrash() throws {
        let configuration = try decoding(RegexDecoding.self, Self.weather)
        let valid = ["T=21.5C H=40% OK", "T=-3C H=100% FAIL", "T=0.0C H=0% OK"].map { Array($0.utf8) }
        let result = smokeDecoder(
            configuration.makeDecoder(), fieldCount: 3, valid: valid, alphabet: Array("TCH=%.-0123456789 OKFAIL".utf8), seed: 0x5EED_0001
        )
        #expect(result.contractViolations.isEmpty)
        #expect(result.decoded > 0)
        #expect(result.failed > 0)
    }
}
