import SerialBridgeDevices
import SerialBridgeGateway
import SerialBridgeParsing
import SerialBridgeProfiles
import Testing

@Suite("Sessions for discovered devices")
struct DeviceDirectorTests {
    static let ftdiSensor = DeviceProfile(
        name: "ftdi-sensor", match: MatchRule(properties: ["ID_VENDOR_ID": "0403", "ID_MODEL_ID": "6001"]),
        parsing: ParsingSpec(framing: LineFraming(), decoding: DelimitedDecoding(fields: [FieldSpec(name: "v")]))
    )
    static let ch340Sensor = DeviceProfile(
        name: "ch340-sensor", match: MatchRule(properties: ["ID_VENDOR_ID": "1a86"]),
        parsing: ParsingSpec(framing: LineFraming(), decoding: DelimitedDecoding(fields: [FieldSpec(name: "v")]))
    )
    static let profiles = [ftdiSensor, ch340Sensor]

    @Test func aMatchingDeviceGetsASessionAndLosesItWhenRemoved() throws {
        var director = DeviceDirector(profiles: Self.profiles, staticPaths: [])
        let device = try #require(SerialDeviceInfo(facts: UdevFixtures.ftdi))
        #expect(director.handle(.added(device)) == [.start(device: device.stableID, path: "/dev/ttyUSB0", profile: "ftdi-sensor")])
        #expect(director.handle(.added(device)).isEmpty)
        #expect(director.handle(.removed(device)) == [.stop(device: device.stableID)])
        #expect(director.handle(.removed(device)).isEmpty)
    }

    @Test func aRenumberedNodeIsTheSameDevice() throws {
        var director = DeviceDirector(profiles: Self.profiles, staticPaths: [])
        let first = try #require(SerialDeviceInfo(facts: UdevFixtures.ch340("ttyUSB0")))
        let again = try #require(SerialDeviceInfo(facts: UdevFixtures.ch340("ttyUSB1")))
        #expect(first.stableID == again.stableID)
        _ = director.handle(.added(first))
        // Renumbered without a remove first (the events raced): the session moves to the new node.
        #expect(director.handle(.added(again)) == [
            .stop(device: first.stableID), .start(device: first.stableID, path: "/dev/ttyUSB1", profile: "ch340-sensor"),
        ])
    }

    @Test func staticallyConfiguredPortsAreLeftAlone() throws {
        var director = DeviceDirector(profiles: Self.profiles, staticPaths: ["/dev/ttyUSB0"])
        let device = try #require(SerialDeviceInfo(facts: UdevFixtures.ftdi))
        #expect(director.handle(.added(device)).isEmpty)
    }

    @Test func anUnmatchedDeviceIsExplainedOnce() throws {
        var director = DeviceDirector(profiles: [Self.ftdiSensor], staticPaths: [])
        let info = try #require(SerialDeviceInfo(facts: UdevFixtures.ch340("ttyUSB0")))
        guard case .note(let text)? = director.handle(.added(info)).first else {
            Issue.record("expected an explanation")
            return
        }
        #expect(text.contains("no profile matches: ftdi-sensor: ID_MODEL_ID=7523 does not match 6001"))
        #expect(director.handle(.changed(info)).isEmpty)
    }
}
