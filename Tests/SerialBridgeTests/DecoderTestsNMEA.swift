import Foundation
import SerialBridgeJSON
import SerialBridgeParsing
import Testing

/// Sentences are the canonical GGA/RMC examples and sentences rendered by pynmea2 1.19, whose
/// checksums and decimal degrees (pynmea2's `latitude`/`longitude`) are quoted in the comments:
/// a source independent of our own reading of NMEA 0183.
@Suite("NMEA decoding")
struct NMEADecoderTests {
    static let gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
    static let rmc = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
    /// pynmea2: latitude -33.9402, longitude -151.20576.
    static let southWest = "$GNGGA,235959.00,3356.4120,S,15112.3456,W,2,12,1.2,-12.5,M,-33.1,M,,*4E"
    static let noFix = "$GNGGA,000001.00,,,,,0,00,99.99,,,,,,*79"
    static let voidRMC = "$GNRMC,081836.75,V,,,,,,,130998,,,N*6F"
    static let gsv = "$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75"
    static let gsa = "$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39"
    static let beidou = "$BDGGA,101010,0000.000,N,00000.000,E,1,4,1.0,0.0,M,0.0,M,,*57"

    static let gnss = #"""
        {
          "type": "nmea",
          "fields": [
            { "name": "time", "source": "time" },
            { "name": "latitude", "source": "latitude", "unit": "°" },
            { "name": "longitude", "source": "longitude", "unit": "°" },
            { "name": "fix", "source": "fixQuality" },
            { "name": "satellites", "source": "satellites" },
            { "name": "hdop", "source": "hdop" },
            { "name": "altitude", "source": "altitude", "unit": "m" },
            { "name": "geoid", "source": "geoidSeparation", "unit": "m" },
            { "name": "status", "source": "status" },
            { "name": "speed", "source": "speedKnots", "unit": "kn" },
            { "name": "course", "source": "course", "unit": "°" },
            { "name": "date", "source": "date" },
            { "name": "sats_in_view", "sentence": "GSV", "index": 3, "type": "integer" }
          ]
        }
        """#

    func decoder(_ json: String = Self.gnss) throws -> any FrameDecoder { try decoding(NMEADecoding.self, json).makeDecoder() }

    @Test func theCanonicalGGASentence() throws {
        let values = try decoder().decode(Self.gga).get()
        #expect(values[0] == .string("123519"))
        #expect(isClose(values[1], 48.1173))
        #expect(isClose(values[2], 11.516666666666667))
        #expect(Array(values[3...7]) == [.integer(1), .integer(8), .float(0.9), .float(545.4), .float(46.9)])
        #expect(values[8...].allSatisfy { $0 == nil })
    }

    @Test func theCanonicalRMCSentence() throws {
        let values = try decoder().decode(Self.rmc).get()
        #expect(values[0] == .string("123519"))
        #expect(isClose(values[1], 48.1173))
        #expect(isClose(values[2], 11.516666666666667))
        #expect(values[3...7].allSatisfy { $0 == nil })
        #expect(Array(values[8...11]) == [.string("A"), .float(22.4), .float(84.4), .string("230394")])
        #expect(values[12] == nil)
    }

    @Test func southAndWestAreNegative() throws {
        let values = try decoder().decode(Self.southWest).get()
        #expect(isClose(values[1], -33.9402))
        #expect(isClose(values[2], -151.20576))
        #expect(Array(values[3...7]) == [.integer(2), .integer(12), .float(1.2), .float(-12.5), .float(-33.1)])
    }

    @Test func anyTalkerIsAccepted() throws {
        let values = try decoder().decode(Self.beidou).get()
        #expect(values[0] == .string("101010"))
        #expect(values[1] == .float(0))
        #expect(values[2] == .float(0))
    }

    @Test func encapsulatedSentencesStartingWithBangAreRead() throws {
        // The AIS example of the gpsd AIVDM/AIVDO guide; its checksum 5C is the published one.
        let decoder = try decoder(#"{"fields": [{"name": "channel", "sentence": "VDM", "index": 4, "type": "string"}]}"#)
        #expect(try decoder.decode("!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C").get() == [.string("B")])
    }

    @Test func emptyFieldsWithoutAFixAreNil() throws {
        let gga = try decoder().decode(Self.noFix).get()
        #expect(gga[0...7] == [.string("000001.00"), nil, nil, .integer(0), .integer(0), .float(99.99), nil, nil])
        let rmc = try decoder().decode(Self.voidRMC).get()
        #expect(rmc[0] == .string("081836.75"))
        #expect(rmc[1] == nil && rmc[2] == nil)
        #expect(rmc[8] == .string("V"))
        #expect(rmc[11] == .string("130998"))
    }

    @Test func genericFieldsReadAnySentenceByIndex() throws {
        let values = try decoder().decode(Self.gsv).get()
        #expect(values[12] == .integer(8))
        #expect(values[0...11].allSatisfy { $0 == nil })
    }

    @Test func aWholeAddressRestrictsTheTalker() throws {
        let decoder = try decoder(
            #"{"fields": [{"name": "gps_sats", "sentence": "GPGSV", "index": 3, "type": "integer"}, {"name": "lat", "source": "latitude", "sentence": "GNGGA"}]}"#
        )
        #expect(try decoder.decode(Self.gsv).get() == [.integer(8), nil])
        #expect(try decoder.decode(Self.gga).get() == [nil, nil])
        #expect(try isClose(decoder.decode(Self.southWest).get()[1], -33.9402))
    }

    @Test func aSourceCanBeRestrictedToOneSentence() throws {
        let decoder = try decoder(#"{"fields": [{"name": "lat", "source": "latitude", "sentence": "RMC"}, {"name": "t", "source": "time"}]}"#)
        #expect(try decoder.decode(Self.gga).get() == [nil, .string("123519")])
        #expect(try isClose(decoder.decode(Self.rmc).get()[0], 48.1173))
    }

    @Test func sentencesNoFieldUsesAreIgnoredByTheParser() throws {
        let configuration = try decoding(NMEADecoding.self, Self.gnss)
        let stream = [Self.gga, Self.gsa, Self.rmc, "$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48"].joined(separator: "\r\n") + "\r\n"
        let result = parseDecoderLines(configuration, stream)
        #expect(result.values.count == 2)
        #expect(result.counters.ignoredFrames == 2)
        #expect(result.counters.decodeErrors == 0)
    }

    @Test func aChecksumMismatchIsAnError() throws {
        let corrupted = Self.gga.replacing("545.4", with: "545.5")
        #expect(throws: DecodeError("NMEA checksum mismatch: computed 0x46, sentence says 0x47")) { try decoder().decode(corrupted).get() }
        // Corrupt sentences are errors even when no field uses them.
        let gsa = Self.gsa.replacing("*39", with: "*38")
        #expect(throws: DecodeError("NMEA checksum mismatch: computed 0x39, sentence says 0x38")) { try decoder().decode(gsa).get() }
    }

    @Test func checksumsAcceptLowerCaseAndTrailingLineEnds() throws {
        let values = try decoder().decode(Self.rmc.replacing("*6A", with: "*6a") + "\r\n").get()
        #expect(values[8] == .string("A"))
    }

    @Test func aMalformedChecksumIsAnError() throws {
        #expect(throws: DecodeError(#"NMEA checksum "4" is not two hex digits"#)) { try decoder().decode(String(Self.gga.dropLast())).get() }
        #expect(throws: DecodeError(#"NMEA checksum "4G" is not two hex digits"#)) { try decoder().decode(String(Self.gga.dropLast()) + "G").get() }
        #expect(throws: DecodeError(#"NMEA checksum "477" is not two hex digits"#)) { try decoder().decode(Self.gga + "7").get() }
    }

    @Test func aMissingChecksumIsRejectedUnlessAllowed() throws {
        let bare = String(Self.gga.prefix(while: { $0 != "*" }))
        #expect(throws: DecodeError("NMEA sentence has no checksum (*hh); set requireChecksum to false to accept such sentences")) {
            try decoder().decode(bare).get()
        }
        let lenient = try decoder(#"{"requireChecksum": false, "fields": [{"name": "alt", "source": "altitude"}]}"#)
        #expect(try lenient.decode(bare).get() == [.float(545.4)])
        #expect(try lenient.decode(Self.gga).get() == [.float(545.4)])
        #expect(throws: DecodeError.self) { try lenient.decode(Self.gga.replacing("*47", with: "*00")).get() }
    }

    @Test func framesThatAreNotSentencesAreErrors() throws {
        #expect(throws: DecodeError("not an NMEA sentence: does not start with '$'")) { try decoder().decode("GPGGA,1*00").get() }
        #expect(throws: DecodeError("not an NMEA sentence: does not start with '$'")) { try decoder().decode("").get() }
        #expect(throws: DecodeError(#"NMEA address field "GP" is not 3 or more letters and digits"#)) {
            try decoder().decode("$GP,1*" + checksum("GP,1")).get()
        }
        #expect(throws: DecodeError(#"NMEA address field "gpgga" is not 3 or more letters and digits"#)) {
            try decoder().decode("$gpgga,1*" + checksum("gpgga,1")).get()
        }
    }

    @Test func badCoordinatesNameTheField() throws {
        func gga(_ latitude: String, _ hemisphere: String) -> String {
            let body = "GPGGA,123519,\(latitude),\(hemisphere),01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
            return "$\(body)*\(checksum(body))"
        }
        #expect(throws: DecodeError(#"field "latitude": "48a7.038" is not a valid ddmm.mmmm latitude"#)) { try decoder().decode(gga("48a7.038", "N")).get() }
        #expect(throws: DecodeError(#"field "latitude": "4867.038" is not a valid ddmm.mmmm latitude"#)) { try decoder().decode(gga("4867.038", "N")).get() }
        #expect(throws: DecodeError(#"field "latitude": "9107.038" is not a valid ddmm.mmmm latitude"#)) { try decoder().decode(gga("9107.038", "N")).get() }
        #expect(throws: DecodeError(#"field "latitude": "-4807.038" is not a valid ddmm.mmmm latitude"#)) { try decoder().decode(gga("-4807.038", "N")).get() }
        #expect(throws: DecodeError(#"field "latitude": "4807." is not a valid ddmm.mmmm latitude"#)) { try decoder().decode(gga("4807.", "N")).get() }
        #expect(throws: DecodeError(#"field "latitude": hemisphere "X" is not N or S"#)) { try decoder().decode(gga("4807.038", "X")).get() }
        #expect(throws: DecodeError(#"field "latitude": hemisphere (N or S) missing after "4807.038""#)) { try decoder().decode(gga("4807.038", "")).get() }
        #expect(try isClose(decoder().decode(gga("4807", "S")).get()[1], -(48 + 7.0 / 60)))
    }

    @Test func aNumberThatDoesNotParseNamesTheField() throws {
        let body = "GPGGA,123519,4807.038,N,01131.000,E,1,x8,0.9,545.4,M,46.9,M,,"
        #expect(throws: DecodeError(#"field "satellites": "x8" is not a valid integer"#)) { try decoder().decode("$\(body)*\(checksum(body))").get() }
    }

    @Test func aShorterSentenceGivesNilForMissingFields() throws {
        let body = "GPGGA,123519,4807.038,N,01131.000,E,1"
        let values = try decoder().decode("$\(body)*\(checksum(body))").get()
        #expect(values[3] == .integer(1))
        #expect(values[4] == nil)
    }

    @Test func configurationMistakesAreLocated() throws {
        let valid = NMEASource.allCases.map(\.rawValue).joined(separator: ", ")
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"fields": [{"name": "a", "source": "lat"}]}"#)
                == [#"$.decoding.fields[0].source: unknown source "lat"; valid sources are \#(valid)"#]
        )
        #expect(valid == "time, status, latitude, longitude, fixQuality, satellites, hdop, altitude, geoidSeparation, speedKnots, course, date")
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"fields": [{"name": "a", "source": "latitude", "index": 2}]}"#)
                == ["$.decoding.fields[0].index: cannot be combined with source; use either source, or sentence and index"]
        )
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"fields": [{"name": "a", "sentence": "GSV"}, {"name": "b", "index": 3}, {"name": "c"}]}"#)
                == [
                    "$.decoding.fields[0].index: is required with sentence (or give a source)",
                    "$.decoding.fields[1].sentence: is required with index",
                    #"$.decoding.fields[2]: needs a source (e.g. "latitude"), or a sentence and an index"#,
                ]
        )
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"fields": [{"name": "a", "source": "status", "sentence": "GGA"}]}"#)
                == [#"$.decoding.fields[0].sentence: GGA sentences do not carry source "status" (RMC sentences do)"#]
        )
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"fields": [{"name": "a", "sentence": "gsv", "index": 1}]}"#)
                == [
                    #"$.decoding.fields[0].sentence: must be a sentence type such as "GSV" or a whole address field such as "GPGSV" (3 to 10 upper-case letters and digits)"#
                ]
        )
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"fields": [{"name": "a", "sentence": "GSV", "index": 0}]}"#)
                == ["$.decoding.fields[0].index: must be an integer from 1 to 99"]
        )
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"fields": [{"name": "a", "source": "satellites", "type": "float"}]}"#)
                == [#"$.decoding.fields[0].type: must be "integer" for source "satellites" (or left out)"#]
        )
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"fields": [{"name": "a", "source": "time"}, {"name": "a", "source": "date"}]}"#)
                == [#"$.decoding.fields[1].name: duplicate field name "a""#]
        )
        #expect(
            try decodingErrors(NMEADecoding.self, #"{"requireChecksum": "no", "fields": [{"name": "a", "source": "time"}]}"#)
                == ["$.decoding.requireChecksum: must be true or false, not a string"]
        )
    }

    @Test func sourcesHaveTheirTypes() throws {
        let configuration = try decoding(NMEADecoding.self, Self.gnss)
        #expect(configuration.fields.map(\.type.rawValue) == [
            "string", "float", "float", "integer", "integer", "float", "float", "float", "string", "float", "float", "string", "integer",
        ])
        #expect(configuration.requireChecksum)
        #expect(configuration.locations[12] == NMEAFieldLocation(.index(3), sentence: "GSV"))
    }

    /// Replays `Fixtures/nmea/gps.nmea` (169 sentences written by nmeasim 1.1.1.0) and compares
    /// every GGA and RMC value with `expected.json` (pynmea2 1.19.0's reading of the same lines):
    /// all four hemisphere combinations, the equator crossing, fixes lost, negative altitudes.
    @Test func replaysTheNmeasimCaptureAsPynmea2ReadsIt() throws {
        let folder = Repository.root.appendingPathComponent("Tests/SerialBridgeTests/Fixtures/nmea")
        let capture = try String(contentsOf: folder.appendingPathComponent("gps.nmea"), encoding: .utf8)
        let expected = try JSONParser.parse(Array(try Data(contentsOf: folder.appendingPathComponent("expected.json"))))
        guard case .array(let entries) = expected else { throw DecoderTestFailure(message: "expected.json is not an array") }
        let names = ["latitude", "longitude", "satellites", "altitude", "fixQuality", "status", "speedKnots"]
        let fields = names.map { #"{"name": "\#($0)", "source": "\#($0)"}"# }.joined(separator: ", ")
        let replay = try decoder(#"{"fields": [\#(fields)]}"#)
        var byLine: [Int: JSONNode] = [:]
        for entry in entries {
            if case .integer(let line)? = entry["line"] { byLine[Int(line)] = entry }
        }
        #expect(byLine.count == 136)
        var compared = 0
        for (index, line) in capture.split(separator: "\r\n", omittingEmptySubsequences: true).enumerated() {
            let values = try replay.decode(String(line)).get()
            guard let entry = byLine[index + 1] else {
                #expect(values.allSatisfy { $0 == nil }, "line \(index + 1) should be ignored")
                continue
            }
            for (name, value) in zip(names, values) {
                switch entry[name] {
                case .float(let number)?:
                    #expect(isClose(value, number, tolerance: 1e-9), "line \(index + 1) \(name): \(String(describing: value)) vs \(number)")
                case .integer(let number)?:
                    #expect(value == .integer(number) || isClose(value, Double(number)), "line \(index + 1) \(name)")
                case .string(let text)?:
                    #expect(value == .string(text), "line \(index + 1) \(name)")
                default:
                    #expect(value == nil, "line \(index + 1) \(name) is not in \(entry["sentence"].map { "\($0)" } ?? "?")")
                }
            }
            compared += 1
        }
        #expect(compared == 136)
    }

    @Test func seededRandomFramesNeverCrash() throws {
        let configuration = try decoding(NMEADecoding.self, Self.gnss)
        let valid = [Self.gga, Self.rmc, Self.southWest, Self.noFix, Self.voidRMC, Self.gsv, Self.gsa].map { Array($0.utf8) }
        let result = smokeDecoder(
            configuration.makeDecoder(), fieldCount: 13, valid: valid, alphabet: Array("$*,.NSEWGPGGARMC0123456789ABCDEF\r\n".utf8),
            seed: 0x5EED_0004
        )
        #expect(result.contractViolations.isEmpty)
        #expect(result.failed > 0)
        // Mutations that leave the sentence and its checksum intact still decode.
        #expect(result.decoded > 0)
        let lenient = try decoding(NMEADecoding.self, #"{"requireChecksum": false, "fields": [{"name": "lat", "source": "latitude"}, {"name": "x", "sentence": "GSV", "index": 4, "type": "string"}]}"#)
        let noChecksum = valid.map { Array($0.prefix(while: { $0 != UInt8(ascii: "*") })) }
        let second = smokeDecoder(lenient.makeDecoder(), fieldCount: 2, valid: noChecksum, alphabet: Array("$,.NSEW0123456789".utf8), seed: 0x5EED_0005)
        #expect(second.contractViolations.isEmpty)
        #expect(second.decoded > 0)
        #expect(second.failed > 0)
    }
}

/// The NMEA checksum of `body` (the bytes between `$` and `*`), as two upper-case hex digits. Its
/// algorithm is checked against the literal checksums of the canonical sentences above.
private func checksum(_ body: String) -> String {
    let value = body.utf8.reduce(UInt8(0), ^)
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(value >> 4)], digits[Int(value & 0x0F)]])
}
