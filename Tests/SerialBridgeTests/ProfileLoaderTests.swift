import Foundation
import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeProfiles
import Testing

@Suite("Profile loading and validation")
struct ProfileLoaderTests {
    @Test func shippedProfilesAreValid() throws {
        let library = try ProfileLibrary.load(paths: [Repository.profiles])
        let csv = try #require(library.profiles["generic-csv-lines"])
        #expect(csv.serial.description == "9600 8N1")
        #expect(csv.parsing.framing as? LineFraming == LineFraming(terminator: [0x0A], maxLength: 256))
        #expect(csv.parsing.outputFields.map(\.name) == ["temperature", "humidity"])
    }

    /// A broken profile and the exact error it must produce.
    static let broken: [(String, String)] = [
        (#"{"#, "$: not valid JSON"),
        (#"[]"#, "$: must be an object, not an array"),
        (#"{"framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.name: is required"),
        (#"{"name":"a b","framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.name: must be non-empty and use only letters, digits, '-', '_' and '.'"),
        (#"{"name":"x","decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.framing: is required"),
        (#"{"name":"x","framing":{"type":"lines"},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, #"$.framing.type: must be one of "line", not "lines""#),
        (#"{"name":"x","framing":{"type":"line","maxLength":0},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.framing.maxLength: must be an integer from 1 to 1048576"),
        (#"{"name":"x","framing":{"type":"line","terminator":""},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.framing.terminator: must not be empty"),
        (#"{"name":"x","framing":{"type":"line"},"decoding":{"type":"delimited","fields":[]}}"#, "$.decoding.fields: must list at least one field"),
        (#"{"name":"x","framing":{"type":"line"},"decoding":{"type":"delimited","delimiter":";;","fields":[{"name":"a"}]}}"#, "$.decoding.delimiter: must be exactly one ASCII character"),
        (#"{"name":"x","framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"},{"name":"a"}]}}"#, #"$.decoding.fields[1].name: duplicate field name "a""#),
        (#"{"name":"x","framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a","type":"double"}]}}"#, #"$.decoding.fields[0].type: must be one of "float", "integer", "string", "boolean", not "double""#),
        (#"{"name":"x","framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"nme":"a"}]}}"#, "$.decoding.fields[0].name: is required"),
        (#"{"name":"x","serial":{"baudRate":9600.5},"framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.serial.baudRate: must be an integer from 50 to 20000000"),
        (#"{"name":"x","serial":{"parity":"mark"},"framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, #"$.serial.parity: must be one of "none", "even", "odd", not "mark""#),
        (#"{"name":"x","serial":{"dataBits":9},"framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.serial.dataBits: must be an integer from 5 to 8"),
        (#"{"name":"x","serial":{"stopBits":"1"},"framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.serial.stopBits: must be an integer from 1 to 2, not a string"),
        (#"{"name":"x","serial":{"baud":9600},"framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]}}"#, "$.serial.baud: unknown key"),
        (#"{"name":"x","framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]},"simulate":{"template":"{b}"}}"#, "$.simulate.template: placeholder {b} has no generator in simulate.values"),
        (#"{"name":"x","framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]},"simulate":{"template":"{a}","values":{"a":{"min":5,"max":1}}}}"#, "$.simulate.values.a.min: must not be greater than max (1.0)"),
    ]

    @Test(arguments: broken.indices)
    func brokenProfileGivesItsExactError(index: Int) {
        let (json, expected) = Self.broken[index]
        do {
            _ = try ProfileLoader.load(bytes: Array(json.utf8), file: "x.json")
            Issue.record("accepted a broken profile: \(json)")
        } catch {
            let lines = error.errors.map(\.description)
            #expect(lines.contains { $0.hasPrefix("x.json: " + expected) }, "got \(lines)")
        }
    }

    @Test func everyErrorInAFileIsReportedAtOnce() {
        let json = #"{"name":"","serial":{"baudRate":-1,"parity":"x"},"framing":{"type":"line"},"decoding":{"type":"delimited","fields":[{"name":"a"}]},"extra":1}"#
        #expect(throws: ConfigErrors.self) { try ProfileLoader.load(bytes: Array(json.utf8), file: "x.json") }
        do {
            _ = try ProfileLoader.load(bytes: Array(json.utf8), file: "x.json")
        } catch {
            #expect(error.errors.count == 4)
        }
    }

    @Test func duplicateProfileNamesAcrossFilesAreRefused() throws {
        let dir = try TemporaryDirectory()
        let profile = try String(contentsOfFile: Repository.profiles + "/generic-csv-lines.json", encoding: .utf8)
        try dir.write("a.json", profile)
        try dir.write("b.json", profile)
        do {
            _ = try ProfileLibrary.load(paths: [dir.path])
            Issue.record("accepted duplicate names")
        } catch {
            #expect(error.description == #"\#(dir.path)/b.json: $.name: profile "generic-csv-lines" is already defined in \#(dir.path)/a.json"#)
        }
    }
}
