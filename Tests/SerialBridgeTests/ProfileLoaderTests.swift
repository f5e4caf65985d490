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

    /// The broken-profile table: each entry's text and the exact error the loader must report.
    struct BrokenProfile: Decodable, Sendable, CustomTestStringConvertible {
        let text: String
        let error: String
        var testDescription: String { error }
    }

    static let broken: [BrokenProfile] = {
        let url = Repository.root.appendingPathComponent("Tests/SerialBridgeTests/Fixtures/broken-profiles.json")
        return (try? JSONDecoder().decode([BrokenProfile].self, from: Data(contentsOf: url))) ?? []
    }()

    @Test func theBrokenProfileTableHasAtLeastThirtyEntries() {
        #expect(Self.broken.count >= 30)
    }

    @Test(arguments: broken)
    func brokenProfileGivesItsExactError(_ entry: BrokenProfile) {
        do {
            _ = try ProfileLoader.load(bytes: Array(entry.text.utf8), file: "x.json")
            Issue.record("accepted a broken profile: \(entry.text)")
        } catch {
            let lines = error.errors.map(\.description)
            #expect(lines.contains { $0.hasPrefix("x.json: " + entry.error) }, "got \(lines)")
        }
    }

    @Test func theJSONSchemaAgreesWithTheLoader() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Repository.root.appendingPathComponent("scripts/check-profile-schema.py").path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if text.contains("No module named 'jsonschema'"), ProcessInfo.processInfo.environment["CI"] != "true" {
            print("skipped: python3 jsonschema is missing (pip install jsonschema)")
            return
        }
        #expect(process.terminationStatus == 0, "\(text)")
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
