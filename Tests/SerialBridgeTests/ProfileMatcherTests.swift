import SerialBridgeParsing
import SerialBridgeProfiles
import Testing

@Suite("Matching devices to profiles")
struct ProfileMatcherTests {
    static func profile(_ name: String, _ rule: MatchRule) -> DeviceProfile {
        DeviceProfile(
            name: name, match: rule,
            parsing: ParsingSpec(framing: LineFraming(), decoding: DelimitedDecoding(fields: [FieldSpec(name: "v")]))
        )
    }

    static let profiles = [
        profile("cp2102-any", MatchRule(properties: ["ID_VENDOR_ID": "10c4", "ID_MODEL_ID": "ea60"])),
        profile("cp2102-sensor-a1", MatchRule(properties: ["ID_VENDOR_ID": "10c4", "ID_SERIAL_SHORT": "A1*"], priority: 10)),
        profile("ftdi", MatchRule(properties: ["DRIVER": "ftdi_sio"])),
        profile("onboard-uart", MatchRule(paths: ["/dev/ttyAMA[0-9]"])),
        profile("by-id-glob", MatchRule(paths: ["/dev/serial/by-id/usb-Prolific*"])),
    ]

    static let cases: [(String, [String: String], [String], String?)] = [
        ("USB adapter with a serial number: the specific profile wins by priority",
         ["ID_VENDOR_ID": "10c4", "ID_MODEL_ID": "ea60", "ID_SERIAL_SHORT": "A1B2"], ["/dev/ttyUSB0"], "cp2102-sensor-a1"),
        ("USB adapter without a serial number",
         ["ID_VENDOR_ID": "10c4", "ID_MODEL_ID": "ea60"], ["/dev/ttyUSB3"], "cp2102-any"),
        ("renumbered node: same properties, same profile",
         ["ID_VENDOR_ID": "10c4", "ID_MODEL_ID": "ea60", "ID_SERIAL_SHORT": "A1B2"], ["/dev/ttyUSB1"], "cp2102-sensor-a1"),
        ("driver match", ["DRIVER": "ftdi_sio", "ID_VENDOR_ID": "0403"], ["/dev/ttyUSB0"], "ftdi"),
        ("static onboard port by path glob", [:], ["/dev/ttyAMA0"], "onboard-uart"),
        ("a link matches although the node does not",
         ["ID_VENDOR_ID": "067b"], ["/dev/ttyUSB0", "/dev/serial/by-id/usb-Prolific_Technology-if00-port0"], "by-id-glob"),
        ("nothing matches", ["ID_VENDOR_ID": "1a86"], ["/dev/ttyUSB0"], nil),
    ]

    @Test(arguments: cases.indices)
    func devicesGetTheRightProfile(index: Int) {
        let (what, properties, paths, expected) = Self.cases[index]
        let outcome = ProfileMatcher.match(.init(properties: properties, paths: paths), profiles: Self.profiles)
        switch outcome {
        case .matched(let profile): #expect(profile.name == expected, "\(what)")
        case .unmatched: #expect(expected == nil, "\(what)")
        case .ambiguous(let names): Issue.record("\(what): ambiguous \(names)")
        }
    }

    @Test func noMatchExplainsEveryProfile() {
        guard case .unmatched(let reasons) = ProfileMatcher.match(.init(properties: ["ID_VENDOR_ID": "1a86"], paths: ["/dev/ttyUSB0"]), profiles: Self.profiles) else {
            Issue.record("expected no match")
            return
        }
        #expect(reasons.contains("cp2102-any: ID_MODEL_ID is not set"))
        #expect(reasons.contains("cp2102-sensor-a1: ID_SERIAL_SHORT is not set"))
        #expect(reasons.contains("onboard-uart: no path matches /dev/ttyAMA[0-9]"))
    }

    @Test func equalPrioritiesAreAmbiguousNotAGuess() {
        let twins = [
            Self.profile("a", MatchRule(properties: ["DRIVER": "cp210x"])),
            Self.profile("b", MatchRule(properties: ["DRIVER": "cp2*"])),
        ]
        guard case .ambiguous(let names) = ProfileMatcher.match(.init(properties: ["DRIVER": "cp210x"], paths: []), profiles: twins) else {
            Issue.record("expected ambiguity")
            return
        }
        #expect(names == ["a", "b"])
    }
}
