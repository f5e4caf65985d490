import Logging
import SerialBridgeSimulator

/// A scripted MH-Z19B on a pty (it answers reads with the datasheet's example and swallows the
/// rest), read by a real gateway that reports to a real server, up to the first stored reading:
/// the stack the command and tap tests drive. ``stop()`` ends the gateway, the server and the device.
struct ScriptedCO2Stack {
    /// The datasheet's answer to a gas concentration read (0x86): 608 ppm.
    static let answer: [UInt8] = [0xFF, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xD1]

    let device: ScriptedDevice
    let player: Task<Void, any Error>
    let server: TestServer
    let gateway: TestGateway
    /// The gateway's config and state; removed when the stack is dropped.
    let directory: TemporaryDirectory

    init(logs: LogCapture) async throws {
        let device = try ScriptedDevice { received in
            guard received.count >= 9 else { return nil }
            return received.starts(with: [0xFF, 0x01, 0x86]) ? Self.answer : []
        }
        self.device = device
        player = Task { try await device.run() }
        do {
            server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
            directory = try TemporaryDirectory()
            let config = try writeGatewayConfig(in: directory, serverPort: server.port, profiles: Repository.profiles, ports: """
                [{ "device": "co2", "path": "\(device.terminal.slavePath)", "profile": "winsen-mhz19b" }]
                """)
            gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        } catch {
            player.cancel()
            device.terminal.close()
            throw error
        }
        let server = self.server
        try await eventually("a first reading", logs: logs) {
            try await server.store.readings(gateway: "gw-test", device: "co2", limit: 1).count == 1
        }
    }

    /// Closes the device's pty (its player stops).
    func closeDevice() {
        player.cancel()
        device.terminal.close()
    }
}
