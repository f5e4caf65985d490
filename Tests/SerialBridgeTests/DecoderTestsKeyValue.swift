import SerialBridgeParsing
import Testing

@Suite("key-value decoding")
struct KeyValueDecoderTests {
    static let sensor = #"""
        {
          "type": "key-value",
          "fields": [
            { "name": "temperature", "key": "T", "unit": "°C" },
            { "name": "H", "type": "integer" },
            { "name": "ok", "key": "OK", "type": "boolean" }
          ]
        }
        """#

    @Test func decodesTheExampleFrame() throws {
        let configuration = try decoding(KeyValueDecoding.self, Self.sensor)
        #expect(configuration.pairSeparator == ",")
        #expect(configuration.separator == "=")
        #expect(configuration.keys == ["T", "H", "OK"])
        #expect(try configuration.makeDecoder().decode("T=21.5,H=40,OK=1").get() == [.float(21.5), .integer(40), .boolean(true)])
    }

    @Test func orderDoesNotMatterAndUnknownKeysAreIgnored() throws {
        let decoder = try decoding(KeyValueDecoding.self, Self.sensor).makeDecoder()
        #expect(try decoder.decode("OK=0,X=9,H=41,T=-2").get() == [.float(-2), .integer(41), .boolean(false)])
    }

    @Test func aMissingKeyOrEmptyValueIsNil() throws {
        let decoder = try decoding(KeyValueDecoding.self, Self.sensor).makeDecoder()
        #expect(try decoder.decode("T=21.5").get() == [.float(21.5), nil, nil])
        #expect(try decoder.decode("T=,H= ,OK=1").get() == [nil, nil, .boolean(true)])
        #expect(try decoder.decode("").get() == [nil, nil, nil])
    }

    @Test func keysAndValuesAreTrimmed() throws {
        let decoder = try decoding(KeyValueDecoding.self, Self.sensor).makeDecoder()
        #expect(try decoder.decode(" T = 21.5 ,\tH=\t40 , OK = 1 ").get() == [.float(21.5), .integer(40), .boolean(true)])
    }

    @Test func emptyPairsAndPairsWithoutSeparatorAreIgnored() throws {
        let decoder = try decoding(KeyValueDecoding.self, Self.sensor).makeDecoder()
        #expect(try decoder.decode("STATUS,,T=1,H=2,,").get() == [.float(1), .integer(2), nil])
    }

    @Test func aRepeatedKeyKeepsItsFirstValue() throws {
        let decoder = try decoding(KeyValueDecoding.self, Self.sensor).makeDecoder()
        #expect(try decoder.decode("T=1,T=2").get() == [.float(1), nil, nil])
    }

    @Test func aValueMayContainTheSeparator() throws {
        let decoder = try decoding(
            KeyValueDecoding.self, #"{"fields": [{"name": "expr", "type": "string"}, {"name": "n", "type": "integer"}]}"#
        ).makeDecoder()
        #expect(try decoder.decode("expr=a=b,n=3").get() == [.string("a=b"), .integer(3)])
    }

    @Test func aSpacePairSeparatorMeansRunsOfBlanks() throws {
        let decoder = try decoding(
            KeyValueDecoding.self,
            #"{"pairSeparator": " ", "fields": [{"name": "T"}, {"name": "H", "type": "integer"}, {"name": "msg", "type": "string"}]}"#
        ).makeDecoder()
        #expect(try decoder.decode("  T=21.5   H=40\t\tmsg=hello ").get() == [.float(21.5), .integer(40), .string("hello")])
        #expect(try decoder.decode("DATA T=1 H=2").get() == [.float(1), .integer(2), nil])
    }

    @Test func separatorsMayBeSeveralCharacters() throws {
        let decoder = try decoding(
            KeyValueDecoding.self,
            #"{"pairSeparator": "; ", "separator": ": ", "fields": [{"name": "temp"}, {"name": "hum"}]}"#
        ).makeDecoder()
        #expect(try decoder.decode("temp: 21.5; hum: 40.5").get() == [.float(21.5), .float(40.5)])
        let colon = try decoding(
            KeyValueDecoding.self, #"{"pairSeparator": "|", "separator": ":", "fields": [{"name": "a", "type": "integer"}]}"#
        ).makeDecoder()
        #expect(try colon.decode("b:1|a: 0x1F").get() == [.integer(31)])
    }

    @Test func twoFieldsMayReadOneKey() throws {
        let decoder = try decoding(
            KeyValueDecoding.self,
            #"{"fields": [{"name": "raw", "key": "V", "type": "integer"}, {"name": "volts", "key": "V", "scale": 0.001}]}"#
        ).makeDecoder()
        #expect(try decoder.decode("V=3300").get() == [.integer(3300), .float(3300)])
    }

    @Test func aValueThatDoesNotParseNamesTheField() throws {
        let decoder = try decoding(KeyValueDecoding.self, Self.sensor).makeDecoder()
        #expect(throws: DecodeError(#"field "H": "forty" is not a valid integer"#)) { try decoder.decode("T=1,H=forty").get() }
        #expect(throws: DecodeError(#"field "ok": "maybe" is not a valid boolean"#)) { try decoder.decode("OK=maybe").get() }
    }

    @Test func throughTheParserScaleAndRangeStillApply() throws {
        let configuration = try decoding(
            KeyValueDecoding.self,
            #"{"fields": [{"name": "T", "scale": 0.1, "range": {"min": -40, "max": 85}}]}"#
        )
        let result = parseDecoderLines(configuration, "T=215\r\nT=900\nX=1\n")
        #expect(result.values == [[.float(21.5)], [.float(90)]])
        #expect(result.counters.outOfRange == 1)
        #expect(result.counters.ignoredFrames == 1)
    }

    @Test func configurationMistakesAreLocated() throws {
        #expect(
            try decodingErrors(KeyValueDecoding.self, #"{"separator": "", "pairSeparator": "", "fields": [{"name": "a"}]}"#)
                == ["$.decoding.pairSeparator: must not be empty", "$.decoding.separator: must not be empty"]
        )
        #expect(
            try decodingErrors(KeyValueDecoding.self, #"{"separator": ",", "fields": [{"name": "a"}]}"#)
                == ["$.decoding.separator: must differ from pairSeparator"]
        )
        #expect(
            try decodingErrors(KeyValueDecoding.self, #"{"separator": " ", "pairSeparator": ";", "fields": [{"name": "a"}]}"#)
                == ["$.decoding.separator: must contain a character other than spaces and tabs, which are trimmed"]
        )
        #expect(
            try decodingErrors(KeyValueDecoding.self, #"{"separator": ": ", "pairSeparator": " ", "fields": [{"name": "a"}]}"#)
                == [#"$.decoding.separator: must not contain spaces or tabs when pairSeparator is " ""#]
        )
        #expect(
            try decodingErrors(KeyValueDecoding.self, #"{"fields": [{"name": "a"}, {"name": "a", "key": "b"}]}"#)
                == [#"$.decoding.fields[1].name: duplicate field name "a""#]
        )
        #expect(
            try decodingErrors(KeyValueDecoding.self, #"{"fields": [{"name": "a=b"}, {"name": "c", "key": "x,y"}, {"name": "d", "key": " d"}]}"#)
                == [
                    #"$.decoding.fields[0].name: key "a=b" contains the separator "=""#,
                    #"$.decoding.fields[1].key: key "x,y" contains the pair separator ",""#,
                    "$.decoding.fields[2].key: must be non-empty, without tabs or leading and trailing spaces",
                ]
        )
        #expect(
            try decodingErrors(KeyValueDecoding.self, #"{"pairSeparator": " ", "fields": [{"name": "air temp"}]}"#)
                == [#"$.decoding.fields[0].name: key "air temp" contains the pair separator " ""#]
        )
        #expect(try decodingErrors(KeyValueDecoding.self, #"{}"#) == ["$.decoding.fields: is required"])
    }

    @Test func seededRandomFramesNeverCrash() throws {
        for (index, section) in [Self.sensor, #"{"pairSeparator": " ", "separator": ":=", "fields": [{"name": "T"}, {"name": "s", "type": "string"}]}"#].enumerated() {
            let configuration = try decoding(KeyValueDecoding.self, section)
            let valid = ["T=21.5,H=40,OK=1", "OK=0,H=3", "T:=1 s:=abc  X:=", " T = 2 ,H= 7"].map { Array($0.utf8) }
            let result = smokeDecoder(
                configuration.makeDecoder(), fieldCount: configuration.fields.count, valid: valid,
                alphabet: Array("TH OK=:,;\t.-0123456789".utf8), seed: 0x5EED_0020 + UInt64(index)
            )
            #expect(result.contractViolations.isEmpty)
            #expect(result.decoded > 0)
            #expect(result.failed > 0)
        }
    }
}
