import SerialBridgeProtocol
import Testing

/// A device's commands: described by its gateway in `attached` events, kept by the server with the
/// device's state, and listed by `GET /api/devices/{id}` for the dashboard's forms.
@Suite("Device commands listed by the API", .serialized)
struct DeviceCommandsTests {
    static let described = #""commands":[{"name":"calibrateSpan","arguments":[{"name":"ppm","type":"integer","min":1000.0,"max":10000.0}]},{"name":"readCO2","arguments":[]}]"#

    static func event(_ sequence: Int64, _ kind: DeviceStateChange.Kind, commands: [CommandDescription]?) -> DeviceStateChange {
        DeviceStateChange(
            gateway: "gw-test", id: ReadingID(epoch: 1, sequence: sequence), device: "co2", kind: kind,
            profile: "winsen-mhz19b", path: "/dev/ttyUSB1", timestamp: sequence, commands: commands
        )
    }

    @Test func theCommandsOfTheLatestAttachedEventAreListedWithTheDevice() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let reading = Reading(
            gateway: "gw-test", id: ReadingID(epoch: 1, sequence: 1), device: "co2", profile: "winsen-mhz19b", timestamp: 1,
            values: [NamedValue(name: "co2", value: .integer(612), unit: "ppm")]
        )
        _ = try await server.store.insert([reading], receivedAt: 1)
        let path = "/api/devices/gw-test%3Aco2"
        // Before any event: the server does not know, and says nothing.
        #expect(try await http("GET", port: server.port, path).body.contains("commands") == false)

        let commands = [
            CommandDescription(name: "calibrateSpan", arguments: [.init(name: "ppm", kind: .integer, min: 1000, max: 10000)]),
            CommandDescription(name: "readCO2"),
        ]
        _ = try await server.store.insert(Self.event(2, .attached, commands: commands), receivedAt: 2)
        #expect(try await http("GET", port: server.port, path).body.contains(Self.described))
        // Later events without a list keep the one known.
        _ = try await server.store.insert(Self.event(3, .detached, commands: nil), receivedAt: 3)
        let detached = try await http("GET", port: server.port, path).body
        #expect(detached.contains(Self.described) && detached.contains(#""state":"detached""#))
        // A new list replaces it; an empty one says the device takes none.
        _ = try await server.store.insert(Self.event(4, .attached, commands: []), receivedAt: 4)
        #expect(try await http("GET", port: server.port, path).body.contains(#""commands":[]"#))
        // The list of devices carries it too.
        #expect(try await http("GET", port: server.port, "/api/devices").body.contains(#""commands":[]"#))
        try await server.stop()
    }
}
