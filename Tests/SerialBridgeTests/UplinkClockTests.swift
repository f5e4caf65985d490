import Logging
import SerialBridgeGateway
import SerialBridgeSerial
import SerialBridgeUplink
import ServiceLifecycle
import Testing

/// A gateway whose uplink runs on a ``ManualClock``.
private struct ClockedGateway {
    let gateway: Gateway
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let clock: ManualClock

    init(configFile: String, clock: ManualClock, logger: Logger) throws {
        self.clock = clock
        gateway = try Gateway(config: GatewayConfig.load(file: configFile), logger: logger, clock: UplinkClock(clock))
        let group = gateway.serviceGroup(signals: [])
        self.group = group
        task = Task { try await group.run() }
    }

    /// Stops the gateway; its clock keeps moving meanwhile, since the drain is timed on it.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        let clock = self.clock
        let ticker = Task {
            while !Task.isCancelled {
                clock.advance(by: .milliseconds(20))
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        defer { ticker.cancel() }
        try await task.value
    }
}

@Suite("The uplink's timing follows its injected clock", .serialized)
struct UplinkClockTests {
    @Test func theUplinkClockMeasuresAndSleepsOnTheClockItWraps() async throws {
        let manual = ManualClock()
        let clock = UplinkClock(manual)
        #expect(clock.now == .zero)
        manual.advance(by: .seconds(5))
        #expect(clock.now == .seconds(5))
        let sleeper = Task { try await clock.sleep(for: .seconds(60)) }
        try await eventually("asleep") { manual.sleeping == 1 }
        manual.advance(by: .seconds(59))
        #expect(manual.sleeping == 1)
        manual.advance(by: .seconds(1))
        try await sleeper.value
    }

    @Test func connectionAgeCountsOnTheInjectedClock() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        // 100 ms of age: on the real clock the link would roll over at once.
        let config = try writeLinkConfig(
            in: dir, url: "ws://127.0.0.1:\(server.port)/gateway/v1", device: device.slavePath,
            extra: #", "uplink": { "maxConnectionAgeMs": 100 }"#
        )
        let clock = ManualClock()
        let running = try ClockedGateway(configFile: config, clock: clock, logger: logs.logger("gateway"))
        let uplink = running.gateway.uplink
        for n in 1...20 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("20 stored", logs: logs) {
            try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100).count == 20
        }
        // Real time passed; the uplink's did not.
        #expect(uplink.health.endings[.connectionAge] == nil)
        #expect(uplink.connectionCount == 1)
        #expect(uplink.connectionUptime == .zero)
        clock.advance(by: .milliseconds(150))
        #expect(uplink.connectionUptime == .milliseconds(150))
        try await eventually("rolled over on the manual clock") {
            clock.advance(by: .milliseconds(20))
            return uplink.health.endings[.connectionAge, default: 0] >= 1 && uplink.connectionCount >= 2
        }
        try await running.stop()
        try await server.stop()
    }

    @Test func backoffWaitsOnTheInjectedClock() async throws {
        let logs = LogCapture()
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        let nobody = try RefusingPort()
        let config = try writeLinkConfig(in: dir, url: "ws://127.0.0.1:\(nobody.port)/gateway/v1", device: device.slavePath, extra: "")
        var text = try String(contentsOfFile: config, encoding: .utf8)
        // An hour's backoff: only the manual clock can get through it in a test.
        text = text.replacingOccurrences(of: #""initialDelayMs": 20, "maxDelayMs": 200"#, with: #""initialDelayMs": 3600000, "maxDelayMs": 3600000"#)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let clock = ManualClock()
        let running = try ClockedGateway(configFile: config, clock: clock, logger: logs.logger("gateway"))
        let uplink = running.gateway.uplink
        try await eventually("first attempt failed", logs: logs) { uplink.state == .waiting }
        #expect(uplink.health.endings[.connectFailed] == 1)
        clock.advance(by: .seconds(3600))
        try await eventually("second attempt after the backoff") { uplink.health.endings[.connectFailed] == 2 }
        try await running.stop()
        withExtendedLifetime(nobody) {}
    }
}
