import Logging
import NIOCore
import NIOPosix
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeSerial
@testable import SerialBridgeUplink
import Testing

@Suite("Connection deadlines, sans I/O")
struct ConnectionWatchTests {
    func watch(maxAge: Duration? = nil) -> ConnectionWatch {
        ConnectionWatch(dialedAt: .seconds(100), connectTimeout: .seconds(30), openedAt: .seconds(101), maxAge: maxAge, settleTimeout: .seconds(10))
    }

    @Test func noWelcomeByTheConnectDeadlineGivesUp() {
        var watch = watch()
        #expect(watch.check(now: .seconds(101), up: false, drainDeadline: nil, depth: 0, settled: true) == .wait)
        #expect(watch.check(now: .milliseconds(129_999), up: false, drainDeadline: nil, depth: 0, settled: true) == .wait)
        // Counted from dialling, not from the upgrade: TCP, TLS and the upgrade share the 30 s.
        #expect(watch.check(now: .seconds(130), up: false, drainDeadline: nil, depth: 0, settled: true) == .giveUp)
        // Once welcomed, the deadline no longer applies.
        #expect(watch.check(now: .seconds(500), up: true, drainDeadline: nil, depth: 0, settled: true) == .wait)
    }

    @Test func aConnectionAgeRolloverStopsSendingThenClosesOnceSettled() {
        var watch = watch(maxAge: .seconds(60))
        #expect(watch.check(now: .seconds(160), up: true, drainDeadline: nil, depth: 5, settled: false) == .wait)
        #expect(watch.check(now: .seconds(161), up: true, drainDeadline: nil, depth: 5, settled: false) == .stopSending)
        #expect(watch.check(now: .seconds(162), up: true, drainDeadline: nil, depth: 5, settled: false) == .wait)
        #expect(watch.check(now: .seconds(163), up: true, drainDeadline: nil, depth: 0, settled: true) == .closeForAge)
    }

    @Test func aRolloverWhoseFramesStayUnacknowledgedClosesAtItsSettleDeadline() {
        var watch = watch(maxAge: .seconds(60))
        #expect(watch.check(now: .seconds(161), up: true, drainDeadline: nil, depth: 5, settled: false) == .stopSending)
        #expect(watch.check(now: .milliseconds(170_999), up: true, drainDeadline: nil, depth: 5, settled: false) == .wait)
        #expect(watch.check(now: .seconds(171), up: true, drainDeadline: nil, depth: 5, settled: false) == .closeForAge)
    }

    @Test func aDrainClosesWhenEverythingIsAcknowledgedOrAtItsDeadline() {
        var watch = watch(maxAge: .seconds(60))
        #expect(watch.check(now: .seconds(110), up: true, drainDeadline: .seconds(120), depth: 3, settled: false) == .wait)
        #expect(watch.check(now: .seconds(111), up: true, drainDeadline: .seconds(120), depth: 0, settled: false) == .closeForShutdown(drained: true))
        #expect(watch.check(now: .seconds(120), up: true, drainDeadline: .seconds(120), depth: 3, settled: false) == .closeForShutdown(drained: false))
        // Draining wins over an age rollover that falls due at the same time.
        #expect(watch.check(now: .seconds(200), up: true, drainDeadline: .seconds(300), depth: 3, settled: true) == .wait)
    }

    @Test func onlyTheNeededInputsAreRead() {
        var watch = watch()
        // Neither the queue depth nor the in-flight check is computed on an ordinary tick.
        _ = watch.check(now: .seconds(110), up: true, drainDeadline: nil, depth: { Issue.record("depth read"); return 0 }(), settled: { Issue.record("settled read"); return true }())
    }
}

@Suite("Connect deadline: silent peers are given up on and redialled", .serialized)
struct ConnectDeadlineLinkTests {
    @Test func aListenerThatAcceptsTCPAndNeverAnswersTheUpgradeIsGivenUpOnAndRedialled() async throws {
        let logs = LogCapture()
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in channel.eventLoop.makeSucceededVoidFuture() }
        let port = try #require(silent.channel.localAddress?.port)
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        let config = try writeLinkConfig(
            in: dir, url: "ws://127.0.0.1:\(port)/gateway/v1", device: device.slavePath,
            extra: #", "uplink": { "connectTimeoutMs": 300 }"#
        )
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let uplink = running.gateway.uplink
        try await eventually("three attempts given up on", logs: logs) { uplink.health.endings[.connectFailed, default: 0] >= 3 }
        #expect(logs.count(containing: "cannot connect to ws://127.0.0.1:\(port)/gateway/v1: no WebSocket connection within 300ms") >= 3)
        #expect(uplink.connectionCount == 0)
        try await running.stop()
        try await silent.channel.close()
    }

    @Test func aServerThatUpgradesButNeverWelcomesIsGivenUpOnAndRedialled() async throws {
        let logs = LogCapture()
        let stub = try await StubLinkServer(.neverWelcome, logger: logs.logger("stub"))
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        let config = try writeLinkConfig(
            in: dir, url: "ws://127.0.0.1:\(stub.port)/gateway/v1", device: device.slavePath,
            extra: #", "uplink": { "connectTimeoutMs": 300 }"#
        )
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let uplink = running.gateway.uplink
        try await eventually("three connections given up on", logs: logs) { stub.connections >= 3 && uplink.health.endings[.connectFailed, default: 0] >= 2 }
        #expect(logs.count(containing: "no welcome from ws://127.0.0.1:\(stub.port)/gateway/v1 within 300ms of dialling (uplink.connectTimeoutMs)") >= 2)
        #expect(uplink.connectionCount == 0)
        try await running.stop()
        try await stub.stop()
    }

    @Test func theDeadlineIsConfigurableAndDefaultsToThirtySeconds() throws {
        let dir = try TemporaryDirectory()
        let device = "/dev/null"
        let plain = try GatewayConfig.load(file: writeLinkConfig(in: dir, url: "ws://127.0.0.1:1/gateway/v1", device: device, extra: ""))
        #expect(plain.connectTimeout == .seconds(30))
        let short = try GatewayConfig.load(file: writeLinkConfig(in: dir, url: "ws://127.0.0.1:1/gateway/v1", device: device, extra: #", "uplink": { "connectTimeoutMs": 1500 }"#))
        #expect(short.connectTimeout == .milliseconds(1500))
        let file = try writeLinkConfig(in: dir, url: "ws://127.0.0.1:1/gateway/v1", device: device, extra: #", "uplink": { "connectTimeoutMs": 5 }"#)
        #expect(throws: ConfigErrors.self) { try GatewayConfig.load(file: file) }
        do {
            _ = try GatewayConfig.load(file: file)
        } catch {
            #expect(error.description == "\(file): $.uplink.connectTimeoutMs: must be an integer from 100 to 600000")
        }
    }
}
