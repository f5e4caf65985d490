import Foundation
import Logging
import SerialBridgeJSON
import SerialBridgeServer
import SerialBridgeSimulator
import Testing

/// Two server instances in this process (A and B, their own ports) sharing one PostgreSQL database
/// for storage and the bus, as `serve --database postgres://…` runs them, with a scripted MH-Z19B
/// whose gateway is connected to B (and knows A as its fallback).
struct ClusterPairStack {
    let directory: TemporaryDirectory
    let a: TestServer
    let b: TestServer
    let device: ScriptedDevice
    let player: Task<Void, any Error>
    let gatewayDirectory: TemporaryDirectory
    let gateway: TestGateway

    init(logs: LogCapture) async throws {
        let url = try await PostgresTestCluster.newDatabase()
        let directory = try TemporaryDirectory()
        self.directory = directory
        let database = try ServerDatabase(parsing: url)
        a = try await TestServer(directory: directory, port: 0, gateway: "gw-test", logger: logs.logger("A")) {
            $0.database = database
            $0.cluster = try? testClusterOptions(url: url, instance: "A")
        }
        b = try await TestServer(directory: directory, port: 0, gateway: "gw-test", logger: logs.logger("B")) {
            $0.database = database
            $0.cluster = try? testClusterOptions(url: url, instance: "B")
        }
        try await waitForBus(port: a.port, logs: logs)
        try await waitForBus(port: b.port, logs: logs)
        let device = try ScriptedDevice { received in
            guard received.count >= 9 else { return nil }
            return received.starts(with: [0xFF, 0x01, 0x86]) ? ScriptedCO2Stack.answer : []
        }
        self.device = device
        player = Task { try await device.run() }
        gatewayDirectory = try TemporaryDirectory()
        let config = try writeClusterGatewayConfig(
            in: gatewayDirectory, ports: [b.port, a.port],
            devices: #"[{ "device": "co2", "path": "\#(device.terminal.slavePath)", "profile": "winsen-mhz19b" }]"#
        )
        gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let b = self.b
        try await eventually("a first reading through B", logs: logs) {
            try await b.store.readings(gateway: "gw-test", device: "co2", limit: 1).count == 1
        }
    }

    func stop() async throws {
        try await gateway.stop()
        player.cancel()
        device.terminal.close()
        try await a.stop()
        try await b.stop()
    }
}

/// A gateway config whose server is `ws://127.0.0.1:PORT` of the first port, the others as
/// `fallbackUrls`, in turn.
func writeClusterGatewayConfig(in dir: TemporaryDirectory, ports: [Int], devices: String, profiles: String = Repository.profiles) throws -> String {
    let urls = ports.map { "\"ws://127.0.0.1:\($0)/gateway/v1\"" }
    try dir.write("token", TestServer.token + "\n")
    try dir.write("gateway.json", """
    {
      "gatewayId": "gw-test",
      "server": { "url": \(urls[0]), "fallbackUrls": [\(urls.dropFirst().joined(separator: ", "))], "tokenFile": "token" },
      "stateDirectory": "state",
      "profileFolders": ["\(profiles)"],
      "ports": \(devices),
      "discovery": false,
      "reconnect": { "initialDelayMs": 20, "maxDelayMs": 200 },
      "metrics": { "listen": "127.0.0.1:0" },
      "logLevel": "debug"
    }
    """)
    return dir.file("gateway.json")
}

private func at(_ node: JSONNode, _ keys: String...) -> JSONNode? {
    var node: JSONNode? = node
    for key in keys { node = node?[key] }
    return node
}

@Suite("Cluster: two server instances act as one (PostgreSQL bus, shared SQLite storage)",
       .serialized, .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage)))
struct ClusterInstancesTests {
    @Test func aDashboardOnASeesReadingsAndStatusOfAGatewayOnB() async throws {
        let logs = LogCapture()
        let stack = try await ClusterPairStack(logs: logs)
        let watcher = LiveWatcher(port: stack.a.port)
        try await eventually("a reading of gw-test:co2 on A's /live", logs: logs) {
            #expect(watcher.upgrade?.hasPrefix("HTTP/1.1 400") != true)
            return !watcher.messages(containing: #""type":"reading""#, #""id":"gw-test:co2""#).isEmpty
        }
        #expect(stack.a.registry.status(of: "gw-test") == nil, "the gateway is connected to B only")
        let seen = try await http("GET", port: stack.a.port, "/api/gateways/gw-test")
        #expect(seen.status == 200)
        #expect(at(seen.json, "online") == .bool(true) && at(seen.json, "instance") == .string("B"))
        let list = try await http("GET", port: stack.a.port, "/api/gateways")
        #expect(list.body.contains(#""instance":"B""#))
        try await stack.stop()
    }

    @Test func aCommandSentOnAIsDeliveredByBAndItsResultComesBackAndIsStored() async throws {
        let logs = LogCapture()
        let stack = try await ClusterPairStack(logs: logs)
        let read = try await http("POST", port: stack.a.port, "/api/devices/gw-test:co2/commands", body: #"{"name":"readCO2"}"#)
        #expect(read.status == 200, "\(read.body)")
        #expect(at(read.json, "status") == .string("answered"), "\(read.body)")
        #expect(at(read.json, "response", "hex") == .string("ff86026047000000d1"))
        #expect(logs.count(containing: "command readCO2 for gw-test:co2 from instance A") == 1)
        guard case .string(let id)? = at(read.json, "id") else {
            Issue.record("no command id in \(read.body)")
            return
        }
        let stored = try await http("GET", port: stack.b.port, "/api/commands/\(id)")
        #expect(stored.status == 200 && stored.json == read.json)
        // The device's own refusal crosses back as it is.
        let bad = try await http("POST", port: stack.a.port, "/api/devices/gw-test:co2/commands", body: #"{"name":"calibrateSpan","arguments":{"ppm":20}}"#)
        #expect(at(bad.json, "status") == .string("failed"))
        #expect(at(bad.json, "message") == .string("argument \"ppm\" must be from 1000.0 to 10000.0, not 20.0"))
        try await stack.stop()
    }

    @Test func aRawTapStartedOnAStreamsFromBAndStopsWhenAStopsItOrGoesAway() async throws {
        let logs = LogCapture()
        let stack = try await ClusterPairStack(logs: logs)
        let watcher = LiveWatcher(port: stack.a.port)
        let started = try await http("POST", port: stack.a.port, "/api/devices/gw-test:co2/tap")
        #expect(started.status == 200 && at(started.json, "tap") == .string("started"), "\(started.body)")
        try await eventually("tapped traffic both ways on A's /live", logs: logs) {
            #expect(watcher.upgrade?.hasPrefix("HTTP/1.1 400") != true)
            let taps = watcher.messages(containing: #""type":"tap""#, #""id":"gw-test:co2""#)
            return taps.contains { $0.contains(#""dir":"tx""#) } && taps.contains { $0.contains(#""dir":"rx""#) }
        }
        #expect(logs.count(containing: "raw tap start for gw-test:co2 from instance A") == 1)
        let stopped = try await http("DELETE", port: stack.a.port, "/api/devices/gw-test:co2/tap")
        #expect(stopped.status == 200 && at(stopped.json, "tap") == .string("stopped"))
        try await eventually("the gateway stopped the tap", logs: logs) { logs.count(containing: "raw tap stopped for co2") == 1 }
        // A tap whose instance goes away without stopping it is stopped by the instance holding it.
        #expect(try await http("POST", port: stack.a.port, "/api/devices/gw-test:co2/tap").status == 200)
        try await eventually("the tap on again", logs: logs) { logs.count(containing: "raw tap started for co2") == 2 }
        try await stack.a.stop()
        try await eventually("B stopped the orphaned tap", logs: logs) { logs.count(containing: "raw tap stopped for co2") == 2 }
        #expect(logs.count(containing: "stopped the raw tap of gw-test:co2: instance A, which started it, is gone") == 1)
        try await stack.gateway.stop()
        stack.player.cancel()
        stack.device.terminal.close()
        try await stack.b.stop()
    }
}
