import SerialBridgeJSON
import SerialBridgeServer
import Testing

/// Each gateway's latest link report kept in PostgreSQL, so that an instance not holding the
/// gateway still shows its link in `GET /api/gateways`.
@Suite(
    "Gateway link reports in PostgreSQL: shown by every instance", .serialized,
    .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage))
)
struct PostgresLinkReportTests {
    @Test func anInstanceThatDoesNotHoldTheGatewayShowsItsLinkReport() async throws {
        let logs = LogCapture()
        let url = try await PostgresTestCluster.newDatabase()
        let database = try ServerDatabase(parsing: url)
        // As `serve --database postgres://…` does: the database also carries the cluster bus.
        let a = try await TestServer(gateway: "gw-test", logger: logs.logger("A")) {
            $0.database = database
            $0.cluster = try? testClusterOptions(url: url, instance: "A")
        }
        let b = try await TestServer(gateway: "gw-test", logger: logs.logger("B")) {
            $0.database = database
            $0.cluster = try? testClusterOptions(url: url, instance: "B")
        }
        try await waitForBus(port: a.port, logs: logs)
        try await waitForBus(port: b.port, logs: logs)
        let directory = try TemporaryDirectory()
        let config = try writeClusterGatewayConfig(in: directory, ports: [b.port], devices: "[]")
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let aPort = a.port
        try await eventually("A lists gw-test online with B's link report", logs: logs) {
            let answer = try await http("GET", port: aPort, "/api/gateways")
            guard answer.status == 200, case .array(let gateways)? = Optional(answer.json),
                  let view = gateways.first(where: { $0["id"] == .string("gw-test") }) else { return false }
            return view["online"] == .bool(true) && view["link"]?["missedBeats"] != nil && view["link"]?["ts"] != nil
        }
        #expect(a.registry.status(of: "gw-test") == nil, "the gateway is connected to B only")
        #expect(try await http("GET", port: aPort, "/api/gateways/gw-test").json["instance"] == .string("B"))
        let single = try await http("GET", port: aPort, "/api/gateways/gw-test")
        #expect(single.json["link"]?["messagesOut"] != nil)
        try await gateway.stop()
        try await a.stop()
        try await b.stop()
    }
}
