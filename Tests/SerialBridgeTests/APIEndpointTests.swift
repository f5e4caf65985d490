import Foundation
import Logging
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeProtocol
import SerialBridgeServer
import SerialBridgeSimulator
import Synchronization
import ServiceLifecycle
import Testing

/// The JSON node at a path of keys and indexes, for terse assertions.
private func at(_ node: JSONNode, _ path: Any...) -> JSONNode? {
    var current: JSONNode? = node
    for step in path {
        switch (current, step) {
        case (.object?, let key as String): current = current?[key]
        case (.array(let items)?, let index as Int): current = items.indices.contains(index) ? items[index] : nil
        default: return nil
        }
    }
    return current
}

private func count(_ node: JSONNode?) -> Int {
    if case .array(let items)? = node { return items.count }
    return -1
}

@Suite("HTTP API against a real server on SQLite and PostgreSQL", .serialized)
struct APIEndpointTests {
    /// An hour boundary a day ago: recent enough that the default retention keeps everything.
    static let hour: Int64 = (Timestamp.nowMilliseconds() / 3_600_000 - 24) * 3_600_000

    /// A server whose database holds gateway `gw-test` (hello seen), device `sensor-1` with readings
    /// one every 10 s over two minutes (t = 1…12), its device events and gateway events.
    static func seededServer(_ logs: LogCapture, _ backend: StorageBackend) async throws -> TestServer {
        let database = try await backend.serverDatabase()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server")) { options in
            if let database { options.database = database }
        }
        let store = server.store
        _ = try await store.recordHello(Hello(gateway: "gw-test", software: "serialbridge 0.1.0", epoch: 3, lastSequence: 0, dropped: 2), receivedAt: hour - 1_000)
        let readings = (1...12).map { index in
            Reading(
                gateway: "gw-test", id: ReadingID(epoch: 3, sequence: Int64(index)), device: "sensor-1", profile: "generic-csv-lines",
                timestamp: hour + Int64(index - 1) * 10_000,
                values: [NamedValue(name: "temperature", value: .float(Double(index)), unit: "°C"), NamedValue(name: "label", value: .string("x"))]
            )
        }
        _ = try await store.insert(readings, receivedAt: hour + 200_000)
        _ = try await store.insert(DeviceStateChange(
            gateway: "gw-test", id: ReadingID(epoch: 3, sequence: 13), device: "sensor-1", kind: .error, profile: "generic-csv-lines",
            path: "/dev/ttyUSB0", timestamp: hour + 130_000, message: "port vanished", counters: [("frames", 12)]
        ), receivedAt: hour + 200_000)
        try await store.recordGatewayEvent(gateway: "gw-test", kind: .online, at: hour - 1_000, reason: nil)
        try await store.recordGatewayEvent(gateway: "gw-test", kind: .offline, at: hour + 140_000, reason: "heartbeats stopped")
        return server
    }

    @Test(arguments: StorageBackend.available)
    func gatewaysAndDevicesAreListedAndLookedUp(_ backend: StorageBackend) async throws {
        let logs = LogCapture()
        let server = try await Self.seededServer(logs, backend)
        let port = server.port

        let gateways = try await http("GET", port: port, "/api/gateways")
        #expect(gateways.status == 200)
        #expect(gateways.header("Content-Type") == "application/json")
        #expect(gateways.json == (try JSONParser.parse(Array("""
            [{"id":"gw-test","online":false,"lastSeen":\(Self.hour + 200_000),"software":"serialbridge 0.1.0","epoch":3,"dropped":2,"devices":1}]
            """.utf8))))
        let one = try await http("GET", port: port, "/api/gateways/gw-test")
        #expect(one.status == 200 && at(one.json, "id") == .string("gw-test"))
        let missing = try await http("GET", port: port, "/api/gateways/gw-nobody")
        #expect(missing.status == 404 && missing.json == .object([("error", .string("no gateway \"gw-nobody\""))]))
        let gatewayDevices = try await http("GET", port: port, "/api/gateways/gw-test/devices")
        #expect(gatewayDevices.status == 200 && at(gatewayDevices.json, 0, "id") == .string("gw-test:sensor-1"))
        #expect(try await http("GET", port: port, "/api/gateways/gw-nobody/devices").status == 404)

        let devices = try await http("GET", port: port, "/api/devices")
        #expect(devices.status == 200)
        #expect(devices.json == (try JSONParser.parse(Array("""
            [{"id":"gw-test:sensor-1","gateway":"gw-test","device":"sensor-1","profile":"generic-csv-lines","lastTs":\(Self.hour + 110_000),
              "readings":12,"state":"error","stateMessage":"port vanished","counters":{"frames":12},
              "values":{"temperature":12.0,"label":"x"},"units":{"temperature":"°C"}}]
            """.utf8))))
        let device = try await http("GET", port: port, "/api/devices/gw-test%3Asensor-1")
        #expect(device.status == 200 && at(device.json, "readings") == .integer(12))
        #expect(try await http("GET", port: port, "/api/devices/gw-test:sensor-1").status == 200)
        let unknown = try await http("GET", port: port, "/api/devices/gw-test:nothing")
        #expect(unknown.status == 404 && at(unknown.json, "error") == .string("no device \"gw-test:nothing\": it has sent no readings"))
        let malformed = try await http("GET", port: port, "/api/devices/sensor-1")
        #expect(malformed.status == 400 && at(malformed.json, "error") == .string("device id \"sensor-1\" must be GATEWAY:DEVICE"))
        try await server.stop()
    }

    @Test(arguments: StorageBackend.available)
    func readingsComeNewestFirstRawInRangeOrDownsampled(_ backend: StorageBackend) async throws {
        let logs = LogCapture()
        let server = try await Self.seededServer(logs, backend)
        let port = server.port
        let path = "/api/devices/gw-test%3Asensor-1/readings"

        // The original form: the newest N as a bare array, oldest first.
        let newest = try await http("GET", port: port, path + "?limit=2")
        #expect(newest.status == 200 && count(newest.json) == 2)
        #expect(at(newest.json, 0) == (try JSONParser.parse(Array("""
            {"epoch":3,"seq":11,"ts":\(Self.hour + 100_000),"values":{"temperature":11.0,"label":"x"}}
            """.utf8))))
        #expect(count(try await http("GET", port: port, path).json) == 12)

        // A short range that fits the points: raw.
        let raw = try await http("GET", port: port, path + "?from=\(Self.hour + 20_000)&to=\(Self.hour + 50_000)")
        #expect(raw.status == 200 && at(raw.json, "mode") == .string("raw"))
        #expect(at(raw.json, "units") == .object([("temperature", .string("°C"))]))
        #expect(count(at(raw.json, "readings")) == 4)
        #expect(at(raw.json, "readings", 0, "seq") == .integer(3))

        // More readings than points: minute buckets with known min/max/mean (t = 1…6, 7…12).
        let buckets = try await http("GET", port: port, path + "?from=\(Self.hour)&to=\(Self.hour + 119_999)&points=5")
        #expect(buckets.status == 200)
        #expect(buckets.json == (try JSONParser.parse(Array("""
            {"id":"gw-test:sensor-1","from":\(Self.hour),"to":\(Self.hour + 119_999),"units":{"temperature":"°C"},
             "mode":"buckets","stepMs":60000,"resolution":"minute","buckets":[
               {"ts":\(Self.hour),"values":{"temperature":{"min":1.0,"max":6.0,"mean":3.5,"count":6}}},
               {"ts":\(Self.hour + 60_000),"values":{"temperature":{"min":7.0,"max":12.0,"mean":9.5,"count":6}}}]}
            """.utf8))))
        // An explicit step; an hour step reads the hourly cells.
        let hourly = try await http("GET", port: port, path + "?from=\(Self.hour)&to=\(Self.hour + 3_599_999)&step=1h")
        #expect(at(hourly.json, "resolution") == .string("hour"))
        #expect(at(hourly.json, "buckets", 0, "values", "temperature", "mean") == .float(6.5))
        #expect(at(hourly.json, "buckets", 0, "values", "temperature", "count") == .integer(12))

        // Bad parameters: 400 with what was wrong; an unknown device: 404.
        let backwards = try await http("GET", port: port, path + "?from=20&to=10")
        #expect(backwards.status == 400 && at(backwards.json, "error") == .string("from (20) must not be after to (10)"))
        let both = try await http("GET", port: port, path + "?from=0&points=5&step=1m")
        #expect(both.status == 400 && at(both.json, "error") == .string("give points or step, not both"))
        #expect(try await http("GET", port: port, path + "?limit=100000").status == 400)
        #expect(try await http("GET", port: port, "/api/devices/gw-test%3Anobody/readings?from=0").status == 404)
        try await server.stop()
    }

    @Test(arguments: StorageBackend.available)
    func eventsOfDevicesAndGatewaysAreListedByTime(_ backend: StorageBackend) async throws {
        let logs = LogCapture()
        let server = try await Self.seededServer(logs, backend)
        let port = server.port

        let all = try await http("GET", port: port, "/api/events")
        #expect(all.status == 200)
        #expect(all.json == (try JSONParser.parse(Array("""
            {"events":[
              {"type":"gateway","gateway":"gw-test","event":"online","ts":\(Self.hour - 1_000)},
              {"type":"device","id":"gw-test:sensor-1","gateway":"gw-test","device":"sensor-1","event":"error","ts":\(Self.hour + 130_000),
               "message":"port vanished","profile":"generic-csv-lines","path":"/dev/ttyUSB0","epoch":3,"seq":13,"counters":{"frames":12}},
              {"type":"gateway","gateway":"gw-test","event":"offline","ts":\(Self.hour + 140_000),"message":"heartbeats stopped"}],
             "truncated":false}
            """.utf8))))
        let newest = try await http("GET", port: port, "/api/events?limit=1")
        #expect(count(at(newest.json, "events")) == 1 && at(newest.json, "truncated") == .bool(true))
        #expect(at(newest.json, "events", 0, "event") == .string("offline"))
        let ranged = try await http("GET", port: port, "/api/events?gateway=gw-test&from=\(Self.hour)&to=\(Self.hour + 135_000)")
        #expect(count(at(ranged.json, "events")) == 1 && at(ranged.json, "events", 0, "event") == .string("error"))
        let device = try await http("GET", port: port, "/api/events?device=gw-test%3Asensor-1")
        #expect(count(at(device.json, "events")) == 1)
        let mismatch = try await http("GET", port: port, "/api/events?gateway=gw-2&device=gw-test:sensor-1")
        #expect(mismatch.status == 400 && at(mismatch.json, "error") == .string("device \"gw-test:sensor-1\" is not on gateway \"gw-2\""))
        #expect(try await http("GET", port: port, "/api/events?limit=0").status == 400)
        #expect(try await http("GET", port: port, "/api/commands/nothing").status == 404)
        try await server.stop()
    }

    @Test func commandsAndTapsReachARealGatewayAndResultsAreKept() async throws {
        let logs = LogCapture()
        let stack = try await ScriptedCO2Stack(logs: logs)
        defer { stack.closeDevice() }
        let (server, gateway) = (stack.server, stack.gateway)
        let port = server.port
        try await eventually("link report") { server.registry.gateways.first?.link != nil }
        let live = try await http("GET", port: port, "/api/gateways/gw-test")
        #expect(at(live.json, "online") == .bool(true))
        #expect(at(live.json, "connectedAt") != nil && at(live.json, "link", "missedBeats") != nil)

        let commands = "/api/devices/gw-test%3Aco2/commands"
        let read = try await http("POST", port: port, commands, body: #"{"name":"readCO2"}"#)
        #expect(read.status == 200)
        #expect(at(read.json, "status") == .string("answered"))
        #expect(at(read.json, "response", "hex") == .string("ff86026047000000d1"))
        #expect(at(read.json, "device") == .string("gw-test:co2"))
        guard case .string(let id)? = at(read.json, "id") else {
            Issue.record("no command id in \(read.body)")
            return
        }
        let again = try await http("GET", port: port, "/api/commands/\(id)")
        #expect(again.status == 200 && again.json == read.json)

        let bad = try await http("POST", port: port, commands, body: #"{"name":"calibrateSpan","arguments":{"ppm":20}}"#)
        #expect(bad.status == 200 && at(bad.json, "status") == .string("failed"))
        #expect(at(bad.json, "message") == .string("argument \"ppm\" must be from 1000.0 to 10000.0, not 20.0"))
        #expect(at(bad.json, "arguments") == .object([("ppm", .float(20))]))
        let listed = try await http("GET", port: port, commands)
        #expect(count(listed.json) == 2)
        let malformed = try await http("POST", port: port, commands, body: #"{"name":"readCO2","arguments":{"x":"y"}}"#)
        #expect(malformed.status == 400 && at(malformed.json, "error") == .string("arguments.x must be a number"))
        let nowhere = try await http("POST", port: port, "/api/devices/gw-nobody%3Aco2/commands", body: #"{"name":"readCO2"}"#)
        #expect(nowhere.status == 404 && at(nowhere.json, "error") == .string("no gateway \"gw-nobody\""))

        // A raw tap started through the API brings the device's bytes to the live feed.
        let feed = server.feed
        let taps = Mutex<[String]>([])
        let watcher = Task {
            for await message in feed.subscribe().updates where message.contains("\"type\":\"tap\"") {
                taps.withLock { $0.append(message) }
            }
        }
        defer { watcher.cancel() }
        let tap = try await http("POST", port: port, "/api/devices/gw-test%3Aco2/tap")
        #expect(tap.status == 200 && tap.json == .object([("id", .string("gw-test:co2")), ("tap", .string("started"))]))
        try await eventually("tapped traffic") { taps.withLock { $0.contains { $0.contains("\"dir\":\"rx\"") } } }
        let untap = try await http("DELETE", port: port, "/api/devices/gw-test%3Aco2/tap")
        #expect(untap.status == 200 && at(untap.json, "tap") == .string("stopped"))

        // Once the gateway is gone: taps are refused, commands fail (and are kept, failed).
        try await gateway.stop()
        try await eventually("offline after the gateway stops") { server.registry.gateways.first?.online == false }
        let refused = try await http("POST", port: port, "/api/devices/gw-test%3Aco2/tap")
        #expect(refused.status == 409 && at(refused.json, "error") == .string("gateway \"gw-test\" is not connected"))
        let offline = try await http("POST", port: port, commands, body: #"{"name":"readCO2"}"#)
        #expect(at(offline.json, "status") == .string("failed") && at(offline.json, "message") == .string("gateway \"gw-test\" is not connected"))
        try await server.stop()
    }
}

@Suite("Retention settings of a running server", .serialized)
struct RetentionServerTests {
    @Test func aServerThatKeepsEverythingStaysUp() async throws {
        let logs = LogCapture()
        let dir = try TemporaryDirectory()
        var options = ServerOptions(port: 0, databasePath: dir.file("db.sqlite"), tokens: TokenStore([("gw-test", TestServer.token)]))
        options.retention = RetentionPolicy(raw: nil, minuteRollups: nil, hourRollups: nil)
        let bound = Mutex<Int?>(nil)
        let app = try ServerApplication.make(options: options, logger: logs.logger("server")) { port in bound.withLock { $0 = port } }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logs.logger("group"))
        let running = Task { try await group.run() }
        try await eventually("server listening") { bound.withLock { $0 != nil } }
        let port = bound.withLock { $0 } ?? 0
        // The retention service has nothing to do; it must wait for shutdown, not end the group.
        #expect(try await http("GET", port: port, "/healthz").status == 200)
        #expect(try await http("GET", port: port, "/api/devices").body == "[]")
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
