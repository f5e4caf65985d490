import Foundation
import Logging
import SerialBridgeGateway
import SerialBridgeProtocol
import SerialBridgeSerial
import SerialBridgeServer
import Testing

@Suite("Store and forward through the gateway", .serialized)
struct SpoolGatewayTests {
    @Test func readingsMadeWhileTheServerIsDownArriveOnceAfterBothRestart() async throws {
        let logs = LogCapture()
        let device = try PseudoTerminal()
        defer { device.close() }
        let directory = try TemporaryDirectory()
        let port = try SpoolCrashTests.freePort()
        let config = try writeGatewayConfig(in: directory, port: port, devicePath: device.slavePath)

        // No server: the readings go to the spool, and stay there when the gateway stops.
        let first = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        for n in 1...300 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("300 readings in the spool") { first.gateway.queue.snapshot.lastAssigned.sequence >= 301 }
        try await first.stop()
        #expect(logs.count(containing: "stay in the spool and are sent after the next start") == 1)
        #expect(logs.count(containing: "spool closed: 302 frames kept for the next run") == 1)

        // Server up, gateway restarted: the previous run's readings first, then this run's.
        let server = try await TestServer(directory: TemporaryDirectory(), port: port, gateway: "gw-test", logger: logs.logger("server"))
        let second = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        #expect(second.gateway.queue.spool.recovery.frames == 302)
        for n in 301...400 { try device.write(Array("\(n),2\n".utf8)) }
        try await eventually("400 readings stored") { try await server.store.devices().first?.readingCount == 400 }
        let readings = try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 1000)
        #expect(readings.map(\.valuesJSON) == (1...400).map { #"{"temperature":\#($0).0,"humidity":\#($0 <= 300 ? 1 : 2).0}"# })
        #expect(readings.prefix(300).allSatisfy { $0.id.epoch == first.gateway.epoch })
        #expect(readings.suffix(100).allSatisfy { $0.id.epoch == second.gateway.epoch })
        try await eventually("the backlog acknowledged") { second.gateway.queue.snapshot.depth == 0 }
        try await second.stop()
        try await server.stop()
    }

    @Test func aGracefulStopDrainsEveryDevicesLastEventBeforeClosingTheLink() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let devices = try (0..<5).map { _ in try PseudoTerminal() }
        defer { devices.forEach { $0.close() } }
        let directory = try TemporaryDirectory()
        let config = try writeGatewayConfig(
            in: directory, port: server.port,
            devices: devices.enumerated().map { (id: "dev-\($0.offset)", path: $0.element.slavePath) }
        )
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        for device in devices {
            for n in 1...10 { try device.write(Array("\(n),1\n".utf8)) }
        }
        try await eventually("50 readings stored") {
            try await server.store.devices().reduce(0) { $0 + $1.readingCount } == 50
        }
        try await gateway.stop()
        #expect(logs.count(containing: "closing the link for shutdown: everything acknowledged") == 1)
        #expect(logs.count(containing: "spool closed: 0 frames kept for the next run") == 1)
        for index in 0..<5 {
            #expect(try await server.store.deviceState(gateway: "gw-test", device: "dev-\(index)")?.state == "detached")
        }
        try await server.stop()
    }
}
