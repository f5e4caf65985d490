import Foundation
import Logging
import NIOSSL
import SerialBridgeGateway
import SerialBridgeProtocol
import SerialBridgeSerial
import SerialBridgeServer
import ServiceLifecycle
import Synchronization
import Testing

/// A real server on a free loopback port, run in-process.
final class TestServer: Sendable {
    let directory: TemporaryDirectory
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let port: Int
    let store: any ServerStorage
    let registry: GatewayRegistry
    let feed: LiveFeed
    let metrics: ServerMetrics

    static let token = "test-token-0123456789abcdef"

    convenience init(
        gateway: String, logger: Logger, maxMessageBytes: Int = 65_536, heartbeatMs: Int64 = 10_000,
        tls: TLSConfiguration? = nil, compression: Bool = true, configure: (inout ServerOptions) -> Void = { _ in }
    ) async throws {
        try await self.init(
            directory: TemporaryDirectory(), port: 0, gateway: gateway, logger: logger,
            maxMessageBytes: maxMessageBytes, heartbeatMs: heartbeatMs, tls: tls, compression: compression, configure: configure
        )
    }

    init(
        directory: TemporaryDirectory, port requestedPort: Int, gateway: String, logger: Logger,
        maxMessageBytes: Int = 65_536, heartbeatMs: Int64 = 10_000, host: String = "127.0.0.1",
        tls: TLSConfiguration? = nil, compression: Bool = true, configure: (inout ServerOptions) -> Void = { _ in }
    ) async throws {
        self.directory = directory
        let database = directory.file("server.sqlite")
        let bound = Mutex<Int?>(nil)
        var options = ServerOptions(
            host: host, port: requestedPort, databasePath: database, tokens: TokenStore([(gateway, Self.token)]),
            heartbeatMs: heartbeatMs, maxMessageBytes: maxMessageBytes, tls: tls, compression: compression
        )
        configure(&options)
        registry = options.registry
        metrics = options.metrics
        feed = options.feed
        // The server's own storage (SQLite, or PostgreSQL when `configure` chose it), shared with the test.
        let opened = try await options.database.open(logger: logger)
        let services = try ServerApplication.services(
            options: options, storage: opened,
            logger: logger
        ) { port in bound.withLock { $0 = port } }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [], logger: logger)
        self.group = group
        task = Task { try await group.run() }
        try await eventually("server listening") { bound.withLock { $0 != nil } }
        port = bound.withLock { $0 } ?? 0
        store = opened.storage
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// A gateway built from a config file, run in-process until stopped.
struct TestGateway {
    let gateway: Gateway
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(configFile: String, logger: Logger) throws {
        let config = try GatewayConfig.load(file: configFile)
        gateway = try Gateway(config: config, logger: logger)
        let group = gateway.serviceGroup(signals: [])
        self.group = group
        task = Task { try await group.run() }
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

func writeGatewayConfig(
    in dir: TemporaryDirectory, port: Int, devicePath: String, token: String = TestServer.token,
    gateway: String = "gw-test"
) throws -> String {
    try writeGatewayConfig(in: dir, port: port, devices: [("sensor-1", devicePath)], token: token, gateway: gateway)
}

func writeGatewayConfig(
    in dir: TemporaryDirectory, port: Int, devices: [(id: String, path: String)], token: String = TestServer.token,
    gateway: String = "gw-test"
) throws -> String {
    let ports = devices.map { #"{ "device": "\#($0.id)", "path": "\#($0.path)", "profile": "generic-csv-lines" }"# }
        .joined(separator: ",\n    ")
    try dir.write("token", token + "\n")
    try dir.write("gateway.json", """
    {
      "gatewayId": "\(gateway)",
      "server": { "url": "ws://127.0.0.1:\(port)/gateway/v1", "tokenFile": "token" },
      "stateDirectory": "state",
      "profileFolders": ["\(Repository.profiles)"],
      "ports": [ \(ports) ],
      "reconnect": { "initialDelayMs": 20, "maxDelayMs": 200 },
      "metrics": { "listen": "127.0.0.1:0" },
      "logLevel": "debug"
    }
    """)
    return dir.file("gateway.json")
}

@Suite("End to end: pty → gateway → WebSocket → server → SQLite", .serialized)
struct EndToEndTests {
    func storedCount(_ server: TestServer) async throws -> Int64 {
        try await server.store.devices().first?.readingCount ?? 0
    }

    @Test func thousandReadingsArriveInOrderOnceAcrossAGatewayRestart() async throws {
        let stack = try await OneDeviceStack()
        defer { stack.close() }
        let (logs, server, device) = (stack.logs, stack.server, stack.device)

        // First run: readings 1...500, alternating CRLF and LF line ends.
        let first = try stack.startGateway()
        for n in 1...500 { try device.write(Array("\(n).5,\(n % 100)\(n % 2 == 0 ? "\r\n" : "\n")".utf8)) }
        try await eventually("500 readings stored", logs: logs) { try await storedCount(server) == 500 }
        try await first.stop()

        // Written while no gateway runs: the tty keeps them for the next reader.
        for n in 501...1000 { try device.write(Array("\(n).5,\(n % 100)\r\n".utf8)) }
        let second = try stack.startGateway()
        #expect(second.gateway.epoch == first.gateway.epoch + 1)
        try await eventually("1000 readings stored") { try await storedCount(server) == 1000 }

        let readings = try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 5000)
        #expect(readings.count == 1000)
        let temperatures = readings.map(\.valuesJSON)
        #expect(temperatures == (1...1000).map { #"{"temperature":\#($0).5,"humidity":\#(Double($0 % 100))}"# })
        // Readings and device events share one sequence per epoch; readings come in sequence order.
        #expect(readings.prefix(500).allSatisfy { $0.id.epoch == first.gateway.epoch })
        #expect(readings.suffix(500).allSatisfy { $0.id.epoch == second.gateway.epoch })
        #expect(zip(readings, readings.dropFirst()).allSatisfy { $0.id < $1.id })
        #expect(Set(readings.map(\.id)).count == 1000)
        // The restart is visible as device events: attached, detached on shutdown, attached again.
        #expect(logs.count(containing: "device sensor-1 attached") == 2)
        #expect(logs.count(containing: "device sensor-1 detached: session stopped") == 1)

        try await second.stop()
        try await server.stop()
    }

    @Test func unacknowledgedReadingsAreResentAfterTheServerRestarts() async throws {
        let stack = try await OneDeviceStack()
        defer { stack.close() }
        let (logs, server, device) = (stack.logs, stack.server, stack.device)
        let gateway = try stack.startGateway()
        for n in 1...100 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("100 stored", logs: logs) { try await storedCount(server) == 100 }

        // Same database, new server process on the same port.
        let port = server.port
        let database = server.directory
        try await server.stop()
        for n in 101...200 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("gateway noticed the outage") { gateway.gateway.uplink.state != .up }
        let restarted = try await TestServer(reusing: database, port: port, gateway: "gw-test", logger: logs.logger("server"))
        try await eventually("200 stored") { try await storedCount(restarted) == 200 }
        let readings = try await restarted.store.readings(gateway: "gw-test", device: "sensor-1", limit: 500)
        #expect(readings.count == 200)
        #expect(zip(readings, readings.dropFirst()).allSatisfy { $0.id < $1.id })
        #expect(readings.map(\.valuesJSON) == (1...200).map { #"{"temperature":\#($0).0,"humidity":1.0}"# })
        try await gateway.stop()
        try await restarted.stop()
    }

    @Test func sixtyFourDevicesAtOnceDeliverEveryReadingInOrderPerDevice() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let devices = try (0..<64).map { _ in try PseudoTerminal() }
        defer { devices.forEach { $0.close() } }
        let dir = try TemporaryDirectory()
        let config = try writeGatewayConfig(
            in: dir, port: server.port,
            devices: devices.enumerated().map { (id: "dev-\($0.offset)", path: $0.element.slavePath) }
        )
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        // Every device writes its 300 readings as fast as it can, all devices at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, device) in devices.enumerated() {
                group.addTask {
                    for n in 1...300 { try device.write(Array("\(n),\(index)\n".utf8)) }
                }
            }
            try await group.waitForAll()
        }
        try await eventually("19,200 readings stored", timeout: .seconds(120)) {
            try await server.store.devices().reduce(0) { $0 + $1.readingCount } == 64 * 300
        }
        for index in 0..<64 {
            let readings = try await server.store.readings(gateway: "gw-test", device: "dev-\(index)", limit: 1000)
            #expect(readings.map(\.valuesJSON) == (1...300).map { #"{"temperature":\#($0).0,"humidity":\#(index).0}"# }, "device \(index)")
        }
        try await gateway.stop()
        try await server.stop()
    }

    @Test func aDeviceThatGoesAwayIsReopenedWhenItComesBack() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let dir = try TemporaryDirectory()
        let link = dir.file("ttyVIRTUAL0")
        let first = try PseudoTerminal()
        try first.link(at: link)
        let config = try writeGatewayConfig(in: dir, port: server.port, devicePath: link)
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        for n in 1...10 { try first.write(Array("\(n),1\n".utf8)) }
        try await eventually("10 stored") { try await storedCount(server) == 10 }
        // Unplugged: the tty hangs up (reads end with EIO), the session ends and starts retrying.
        first.close()
        try await eventually("detach reported to the server") { logs.count(containing: "device sensor-1 detached") >= 1 }
        let state = try await server.store.deviceState(gateway: "gw-test", device: "sensor-1")
        #expect(state?.state == "detached")
        #expect(state?.countersJSON.contains(#""readings":10"#) == true)
        // Plugged back in at the same path (a new tty behind the same link).
        let second = try PseudoTerminal()
        defer { second.close() }
        try second.link(at: link)
        try await eventually("reopened") { logs.count(containing: "opened \(link)") >= 2 }
        for n in 11...20 { try second.write(Array("\(n),1\n".utf8)) }
        try await eventually("20 stored") { try await storedCount(server) == 20 }
        #expect(try await server.store.deviceState(gateway: "gw-test", device: "sensor-1")?.state == "attached")
        try await gateway.stop()
        try await server.stop()
    }

    @Test func aWrongTokenIsLoggedAsRefusedAndRetriedWithBackoff() async throws {
        let stack = try await OneDeviceStack(token: "wrong-token-00000000000000")
        defer { stack.close() }
        let (logs, server) = (stack.logs, stack.server)
        let gateway = try stack.startGateway()
        try await eventually("three refusals logged") { logs.count(containing: "server refused the token") >= 3 }
        let refusal = try #require(logs.messages.first { $0.contains("server refused the token") })
        #expect(refusal.contains(#"gateway "gw-test": unknown token (HTTP 401 from /gateway/v1/auth)"#))
        #expect(logs.count(containing: "retrying in") >= 2)
        #expect(!gateway.task.isCancelled)
        #expect(gateway.gateway.uplink.connectionCount == 0)
        try await gateway.stop()
        try await server.stop()
    }

    @Test func aTokenForAnotherGatewayCannotSpeakForThisOne() async throws {
        let stack = try await OneDeviceStack(serverKnows: "gw-other")
        defer { stack.close() }
        let (logs, server) = (stack.logs, stack.server)
        let gateway = try stack.startGateway()
        try await eventually("mismatch reported") { logs.count(containing: "gateway-mismatch") >= 2 }
        #expect(logs.messages.contains { $0.contains(#"server rejected hello: gateway-mismatch: token is for "gw-other", hello says "gw-test""#) })
        try await gateway.stop()
        try await server.stop()
    }
}

/// The usual end-to-end set-up: a real server, one device on a pty, and the config of a gateway
/// (`gw-test`) bound to it. Gateways are started (and restarted) by the test.
struct OneDeviceStack {
    let logs = LogCapture()
    let server: TestServer
    let device: PseudoTerminal
    let directory: TemporaryDirectory
    let config: String

    /// `serverKnows` is the gateway id the server's token belongs to; `token` is the one the gateway sends.
    init(serverKnows gateway: String = "gw-test", token: String = TestServer.token) async throws {
        server = try await TestServer(gateway: gateway, logger: logs.logger("server"))
        device = try PseudoTerminal()
        directory = try TemporaryDirectory()
        config = try writeGatewayConfig(in: directory, port: server.port, devicePath: device.slavePath, token: token)
    }

    func startGateway() throws -> TestGateway {
        try TestGateway(configFile: config, logger: logs.logger("gateway"))
    }

    func close() { device.close() }
}

extension TestServer {
    /// A new server on an existing database and port (a server restart).
    convenience init(reusing directory: TemporaryDirectory, port: Int, gateway: String, logger: Logger) async throws {
        try await self.init(directory: directory, port: port, gateway: gateway, logger: logger)
    }
}
