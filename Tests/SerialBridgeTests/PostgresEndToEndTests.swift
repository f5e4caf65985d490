import Logging
import SerialBridgeJSON
import SerialBridgeProtocol
import SerialBridgeSerial
import SerialBridgeServer
import Testing

@Suite(
    "End to end on PostgreSQL: pty → gateway → server → PostgreSQL → API", .serialized,
    .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage))
)
struct PostgresEndToEndTests {
    @Test func readingsArriveOnceThroughTheAPIAcrossAServerInstanceChange() async throws {
        let logs = LogCapture()
        let database = try await ServerDatabase(parsing: PostgresTestCluster.newDatabase())
        let first = try await TestServer(gateway: "gw-test", logger: logs.logger("server-a")) { $0.database = database }
        let device = try PseudoTerminal()
        defer { device.close() }
        let directory = try TemporaryDirectory()
        let config = try writeGatewayConfig(in: directory, port: first.port, devicePath: device.slavePath)
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        for n in 1...300 { try device.write(Array("\(n).5,\(n % 100)\n".utf8)) }
        try await eventually("300 stored", logs: logs) { try await first.store.device(gateway: "gw-test", device: "sensor-1")?.readingCount == 300 }

        // Another instance on the same database takes over the port; the gateway reconnects to it
        // and sends what the first did not acknowledge, and nothing is stored twice.
        let port = first.port
        try await first.stop()
        for n in 301...600 { try device.write(Array("\(n).5,\(n % 100)\n".utf8)) }
        let second = try await TestServer(
            directory: TemporaryDirectory(), port: port, gateway: "gw-test", logger: logs.logger("server-b")
        ) { $0.database = database }
        try await eventually("600 stored", logs: logs) { try await second.store.device(gateway: "gw-test", device: "sensor-1")?.readingCount == 600 }

        let answer = try await http("GET", port: port, "/api/devices/gw-test%3Asensor-1/readings?limit=1000")
        #expect(answer.status == 200)
        guard case .array(let items) = answer.json else {
            Issue.record("not an array: \(answer.body)")
            return
        }
        #expect(items.count == 600)
        let temperatures = items.compactMap { item -> Double? in
            if case .float(let value)? = item["values"]?["temperature"] { return value }
            return nil
        }
        #expect(temperatures == (1...600).map { Double($0) + 0.5 })
        let devices = try await http("GET", port: port, "/api/devices")
        #expect(devices.status == 200 && devices.body.contains(#""readings":600"#))
        try await gateway.stop()
        try await second.stop()
    }
}
