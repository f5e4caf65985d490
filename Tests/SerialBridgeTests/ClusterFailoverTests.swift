import Crypto
import Foundation
import Logging
import SerialBridgeJSON
import SerialBridgeSerial
import SerialBridgeServer
import Testing

/// Instance B is a real `serialbridge-server` process (`serve --database postgres://…`), so that it
/// can be killed outright; A runs in this process. Both store in, and talk through, one PostgreSQL
/// database.
@Suite("Cluster: killing the instance a gateway is on", .serialized,
       .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage)))
struct ClusterFailoverTests {
    @Test func theGatewayMovesToTheOtherInstanceAndNoReadingIsLost() async throws {
        let binary = try #require(BuiltProducts.path("serialbridge-server"), "build the server first: swift build --build-tests")
        let logs = LogCapture()
        let url = try await PostgresTestCluster.newDatabase()
        let directory = try TemporaryDirectory()
        let database = try ServerDatabase(parsing: url)
        let a = try await TestServer(directory: directory, port: 0, gateway: "gw-test", logger: logs.logger("A")) {
            $0.database = database
            $0.cluster = try? testClusterOptions(url: url, instance: "A")
        }
        // B, started as an operator would, takes the gateway's token from the database.
        let hash = SHA256.hash(data: Array(TestServer.token.utf8)).map { String(format: "%02x", $0) }.joined()
        try directory.write("tokens", "gw-test sha256:\(hash) created=2026-01-01T00:00:00Z\n")
        _ = try await PostgresCredentialCommands.importTokens(file: directory.file("tokens"), database: PostgresURL(url))
        let b = try ChildProcess(binary, [
            "serve", "--port", "0", "--port-file", directory.file("b.port"), "--database", url,
            "--instance-id", "B", "--log-level", "debug",
        ], log: directory.file("b.log"))
        var killed = false
        defer { if !killed { b.signal(SIGKILL) } }
        try await eventually("B's port file") { (try? String(contentsOfFile: directory.file("b.port"), encoding: .utf8))?.hasSuffix("\n") == true }
        let bPort = try #require(Int(String(contentsOfFile: directory.file("b.port"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try await waitForBus(port: a.port, logs: logs)
        try await waitForBus(port: bPort, logs: logs)

        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let device = BurstingDevice(terminal)
        let gatewayDirectory = try TemporaryDirectory()
        let config = try writeClusterGatewayConfig(
            in: gatewayDirectory, ports: [bPort, a.port],
            devices: #"[{ "device": "sensor-1", "path": "\#(terminal.slavePath)", "profile": "generic-csv-lines" }]"#
        )
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let total = 20_000
        device.start(upTo: total)
        @Sendable func stored() async throws -> Int64 { try await a.store.devices().first?.readingCount ?? 0 }
        try await eventually("readings stored through B", logs: logs) { try await stored() >= 2_000 }
        #expect(a.registry.status(of: "gw-test") == nil, "the gateway is on B")
        let before = try await http("GET", port: a.port, "/api/gateways/gw-test")
        #expect(before.json["instance"] == .string("B"))

        b.signal(SIGKILL)
        killed = true
        // Mid-burst: the device blocks on a full pty while the gateway waits, so far fewer lines
        // than the total are written by the time 2,000 are stored.
        #expect(device.written < total)
        try await eventually("the gateway on A", logs: logs) { a.registry.status(of: "gw-test")?.online == true }
        try await eventually("the device finished its burst") { device.finished }
        try await eventually("every reading stored once", logs: logs) { try await stored() == Int64(device.written) }
        #expect(device.written == total)
        let after = try await http("GET", port: a.port, "/api/gateways/gw-test")
        #expect(after.json["online"] == .bool(true) && after.json["instance"] == .string("A"))
        let newest = try await a.store.readings(gateway: "gw-test", device: "sensor-1", limit: 1)
        #expect(newest.first?.valuesJSON.contains("\(total)") == true, "\(newest)")
        try await gateway.stop()
        try await a.stop()
    }
}
