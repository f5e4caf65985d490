import Foundation
import Logging
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeSerial
import Testing

@Suite("Metrics settings")
struct MetricsSettingsTests {
    @Test(arguments: [
        ("127.0.0.1:9464", "127.0.0.1", 9464),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("localhost:65535", "localhost", 65535),
        ("[::1]:9464", "::1", 9464),
        ("[fe80::1%eth0]:80", "fe80::1%eth0", 80),
    ])
    func listenAddressesAreRead(_ text: String, _ host: String, _ port: Int) {
        #expect(MetricsListen(parsing: text) == MetricsListen(host: host, port: port))
        #expect(MetricsListen(parsing: text)?.description == text)
    }

    @Test(arguments: ["localhost", "127.0.0.1:", ":9464", "127.0.0.1:99999", "127.0.0.1:-1", "::1:9464", "[::1]", "[::1]9464", "[]:1", "a b:1", "host:9464x", "127.0.0.1:٣"])
    func malformedListenAddressesAreRefused(_ text: String) {
        #expect(MetricsListen(parsing: text) == nil)
    }

    /// Loads a config whose `metrics` member is `metrics` (nothing when nil).
    func load(metrics: String?) throws(ConfigErrors) -> (GatewayConfig, String) {
        let dir = try! TemporaryDirectory()
        let member = metrics.map { #", "metrics": \#($0)"# } ?? ""
        try! dir.write("gateway.json", #"{ "gatewayId": "gw", "server": { "url": "ws://127.0.0.1:1/gateway/v1", "tokenFile": "token" }\#(member) }"#)
        let file = dir.file("gateway.json")
        return (try GatewayConfig.load(file: file), file)
    }

    @Test func theEndpointIsOnLoopbackByDefaultAndCanBeTurnedOff() throws {
        #expect(try load(metrics: nil).0.metricsListen == MetricsListen(host: "127.0.0.1", port: 9464))
        #expect(try load(metrics: "{}").0.metricsListen == .default)
        #expect(try load(metrics: #"{ "listen": null }"#).0.metricsListen == nil)
        #expect(try load(metrics: #"{ "listen": false }"#).0.metricsListen == nil)
        #expect(try load(metrics: #"{ "listen": "[::1]:0" }"#).0.metricsListen == MetricsListen(host: "::1", port: 0))
    }

    @Test(arguments: [
        (#"{ "listen": "localhost" }"#, #"$.metrics.listen: must be "HOST:PORT" such as "127.0.0.1:9464" ("[::1]:9464" for IPv6, port 0 to 65535), or null or false to turn the endpoint off, not "localhost""#),
        (#"{ "listen": "127.0.0.1:70000" }"#, #"$.metrics.listen: must be "HOST:PORT" such as "127.0.0.1:9464" ("[::1]:9464" for IPv6, port 0 to 65535), or null or false to turn the endpoint off, not "127.0.0.1:70000""#),
        (#"{ "listen": 9464 }"#, #"$.metrics.listen: must be "HOST:PORT" such as "127.0.0.1:9464", or null or false to turn the endpoint off, not a number"#),
        (#"{ "listen": true }"#, #"$.metrics.listen: must be "HOST:PORT" such as "127.0.0.1:9464", or null or false to turn the endpoint off, not a boolean"#),
        (#"{ "port": 9464 }"#, #"$.metrics.port: unknown key"#),
        (#""127.0.0.1:9464""#, #"$.metrics: must be an object, not a string"#),
    ])
    func badMetricsSettingsAreReportedAtTheirPath(_ metrics: String, _ message: String) {
        do {
            _ = try load(metrics: metrics)
            Issue.record("\(metrics) was accepted")
        } catch {
            #expect(error.errors.count == 1)
            let line = error.errors.first?.description ?? ""
            #expect(line.hasSuffix("gateway.json: " + message), "\(line)")
        }
    }
}

@Suite("Metrics endpoint of a running gateway", .serialized)
struct MetricsEndpointTests {
    func scrape(_ port: Int, _ path: String = "/metrics") async throws -> HTTPAnswer {
        try await http("GET", port: port, path)
    }

    @Test func aScrapeShowsLinkStateRoundTripsAndEachDevicesReadings() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"), heartbeatMs: 100)
        let meterA = try PseudoTerminal()
        let meterB = try PseudoTerminal()
        defer {
            meterA.close()
            meterB.close()
        }
        let dir = try TemporaryDirectory()
        let config = try writeGatewayConfig(
            in: dir, port: server.port, devices: [(id: "meter-a", path: meterA.slavePath), (id: #"meter \"b\""#, path: meterB.slavePath)]
        )
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let gateway = running.gateway
        for n in 1...25 { try meterA.write(Array("\(n).5,40\n".utf8)) }
        for n in 1...7 { try meterB.write(Array("\(n),1\n".utf8)) }
        // A line that is no CSV reading: a decode error on meter-a.
        try meterA.write(Array("no,numbers,here\n".utf8))
        try await eventually("32 readings stored", logs: logs) {
            try await server.store.devices().reduce(0) { $0 + $1.readingCount } == 32
        }
        try await eventually("a heartbeat answered") { gateway.uplink.health.lastRoundTrip != nil }
        try await eventually("the endpoint bound") { gateway.metricsAddress != nil }
        let port = try #require(gateway.metricsAddress?.port)
        #expect(port != 0)
        #expect(logs.count(containing: "metrics endpoint listening on http://127.0.0.1:\(port)/metrics") == 1)

        try await eventually("every reading counted and acknowledged") {
            let text = try await scrape(port).body
            return metricValue(text, #"serialbridge_device_readings_total{device="meter-a"}"#) == 25
                && metricValue(text, #"serialbridge_device_readings_total{device="meter \"b\""}"#) == 7
                && metricValue(text, "serialbridge_spool_frames") == 0
        }
        let answer = try await scrape(port)
        #expect(answer.status == 200)
        #expect(answer.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        let text = answer.body
        // Link state: one series per state, 1 for the current one.
        #expect(metricValue(text, #"serialbridge_link_state{state="up"}"#) == 1)
        for state in ["connecting", "waiting", "stopped"] {
            #expect(metricValue(text, #"serialbridge_link_state{state="\#(state)"}"#) == 0)
        }
        // Round trips, in seconds.
        for name in ["serialbridge_link_rtt_seconds", "serialbridge_link_rtt_mean_seconds", "serialbridge_link_rtt_p99_seconds"] {
            let value = try #require(metricValue(text, name), "\(name) missing")
            #expect(value >= 0 && value < 60, "\(name) = \(value)")
        }
        #expect(metricValue(text, "serialbridge_link_connections_total") == 1)
        #expect(metricValue(text, #"serialbridge_link_reconnects_total{cause="heartbeat-timeout"}"#) == 0)
        #expect((metricValue(text, "serialbridge_link_connection_uptime_seconds") ?? 0) > 0)
        #expect((metricValue(text, "serialbridge_link_sent_frames_total") ?? 0) >= 34, "32 readings and 2 attached events")
        #expect((metricValue(text, "serialbridge_link_sent_bytes_total") ?? 0) > 0)
        #expect((metricValue(text, "serialbridge_link_received_messages_total") ?? 0) > 0)
        #expect(metricValue(text, "serialbridge_spool_dropped_frames_total") == 0)
        // Per device, labelled by id (quotes escaped).
        #expect(metricValue(text, #"serialbridge_device_decode_errors_total{device="meter-a"}"#) == 1)
        #expect(metricValue(text, #"serialbridge_device_decode_errors_total{device="meter \"b\""}"#) == 0)
        #expect(metricValue(text, #"serialbridge_device_frames_total{device="meter-a"}"#) == 26)
        #expect(metricValue(text, #"serialbridge_device_port_open{device="meter-a"}"#) == 1)
        #expect((metricValue(text, #"serialbridge_device_bytes_total{device="meter-a"}"#) ?? 0) > 100)
        #expect(metricValue(text, #"serialbridge_gateway_info{gateway="gw-test",version="\#(Gateway.softwareVersion)"}"#) == 1)
        #expect(metricValue(text, "serialbridge_gateway_epoch") == Double(gateway.epoch))
        #expect(text.contains("# TYPE serialbridge_device_readings_total counter"))
        #expect(text.contains("# TYPE serialbridge_link_rtt_seconds gauge"))
        #expect(text.contains("# HELP serialbridge_link_state "))

        let health = try await scrape(port, "/healthz")
        #expect(health.status == 200)
        #expect(health.body == #"{"status":"ok","link":"up"}"#)
        #expect(try await scrape(port, "/nothing").status == 404)

        // After shutdown the counters are still there, the ports closed and the link stopped.
        try await running.stop()
        #expect(gateway.metricsAddress == nil)
        let last = String(decoding: gateway.metrics.exposition(), as: UTF8.self)
        #expect(metricValue(last, #"serialbridge_device_readings_total{device="meter-a"}"#) == 25)
        #expect(metricValue(last, #"serialbridge_device_port_open{device="meter-a"}"#) == 0)
        #expect(metricValue(last, #"serialbridge_link_state{state="stopped"}"#) == 1)
        try await server.stop()
    }

    @Test func deviceCountersOutliveTheirSessions() throws {
        var poll = PollCountersProbe()
        poll.requests = 10
        let board = DeviceCounterBoard()
        let slot = board.open(device: "pump")
        #expect(board.snapshot["pump"] == DeviceCounterBoard.Counts())
        slot.publish(poll.counts)
        #expect(board.snapshot["pump"]?.requests == 10)
        #expect(board.snapshot["pump"]?.polled == true)
        board.close(slot)
        // A second session of the same device adds to the first one's counters.
        let again = board.open(device: "pump")
        again.publish(poll.counts)
        #expect(board.snapshot["pump"]?.requests == 20)
        #expect(board.snapshot["pump"]?.open == true)
        board.close(again)
        #expect(board.snapshot["pump"]?.open == false)
    }

    @Test func anEndpointThatCannotListenIsLoggedAndTheGatewayRunsOn() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        // The server's own port is taken: the endpoint cannot bind it.
        let config = try writeGatewayConfig(in: dir, port: server.port, devicePath: device.slavePath)
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: #""listen": "127.0.0.1:0""#, with: #""listen": "127.0.0.1:\#(server.port)""#)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        try await eventually("the bind failure logged", logs: logs) {
            logs.count(containing: "metrics endpoint cannot listen on 127.0.0.1:\(server.port)") == 1
        }
        for n in 1...3 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("readings still flow") { try await server.store.devices().first?.readingCount == 3 }
        #expect(running.gateway.metricsAddress == nil)
        try await running.stop()
        try await server.stop()
    }
}

/// Builds the counters of a polled device without a bus.
private struct PollCountersProbe {
    var requests: UInt64 = 0
    var counts: DeviceCounterBoard.Counts {
        var counts = DeviceCounterBoard.Counts()
        counts.polled = true
        counts.open = true
        counts.requests = requests
        return counts
    }
}
