import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import SerialBridgeGateway
import SerialBridgeSerial
import SerialBridgeSystemd
import SerialBridgeUplink
import ServiceLifecycle
import Synchronization
import Testing

/// Holds a device session inside its step while armed (the test seam of `DeviceCounterBoard`).
final class SessionWedge: Sendable {
    private let state = Mutex((armed: false, held: [CheckedContinuation<Void, Never>]()))

    func arm() { state.withLock { $0.armed = true } }

    /// Lets every held session go and stops holding.
    func release() {
        let held = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.armed = false
            defer { state.held.removeAll() }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }

    var holding: Int { state.withLock { $0.held.count } }

    func hold() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let keep = state.withLock { state -> Bool in
                guard state.armed else { return false }
                state.held.append(continuation)
                return true
            }
            if !keep { continuation.resume() }
        }
    }
}

/// An in-process gateway under a test notify socket, its watchdog on a manual clock.
struct NotifiedGateway {
    let stack: OneDeviceStack
    let listener: NotifyListener
    let clock = ManualClock()
    let gateway: Gateway
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(stack: OneDeviceStack, watchdogMicroseconds: Int = 2_000_000, wedge: SessionWedge? = nil) throws {
        self.stack = stack
        listener = try NotifyListener(directory: stack.directory)
        let environment = ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "\(watchdogMicroseconds)"]
        gateway = try Gateway(
            config: GatewayConfig.load(file: stack.config), logger: stack.logs.logger("gateway"),
            environment: { environment[$0] }, watchdogClock: UplinkClock(clock)
        )
        if let wedge { gateway.deviceCounters.setStall { _ in await wedge.hold() } }
        group = gateway.serviceGroup(signals: [])
        let group = self.group
        task = Task { try await group.run() }
    }

    var watchdog: ServiceWatchdog { gateway.watchdog! }

    /// Lets the watchdog's clock run one tick (half the interval) and waits until it has judged.
    func tick() async throws {
        // Every event loop has run what was queued (the last probe among it): ticks come faster
        // here than real time would bring them, and a busy loop must not look blocked.
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() { try await loop.submit {}.get() }
        let before = watchdog.ticks
        try await eventually("the watchdog asleep") { clock.sleeping == 1 }
        clock.advance(by: watchdog.interval / 2)
        try await eventually("watchdog tick \(before + 1)") { watchdog.ticks == before + 1 }
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

@Suite("Service manager: READY, STATUS and the watchdog of an in-process gateway", .serialized)
struct GatewayNotifyTests {
    @Test func readyComesOnceDevicesAreEnumeratedThenStatusAndWatchdogPings() async throws {
        let stack = try await OneDeviceStack()
        defer { stack.close() }
        let running = try NotifiedGateway(stack: stack)
        let (ready, message) = try await running.listener.wait(for: "READY=1", logs: stack.logs)
        // What READY=1 promises had happened by then.
        #expect(stack.logs.count(containing: "present device(s) enumerated") == 1)
        #expect(running.gateway.sessionStarts[stack.device.slavePath] == 1)
        #expect(running.gateway.metricsAddress != nil)
        #expect(running.gateway.isReady)
        #expect(running.listener.first("READY=1", from: ready + 1) == nil)
        #expect(statusText(message)?.contains("devices attached") == true || statusText(message)?.contains("device attached") == true)
        #expect(stack.logs.count(containing: "gateway ready:") == 1)

        // STATUS= follows the link and the device.
        try stack.device.write(Array("21.5,40\n".utf8))
        try await eventually("a STATUS= line with the link up and the device attached", logs: stack.logs) {
            running.listener.messages.compactMap(statusText).contains { $0.hasPrefix("link up to ws://127.0.0.1:") && $0.contains("1 of 1 device attached") }
        }

        // WATCHDOG=1 at start and at every tick while healthy.
        try await eventually("the first ping") { running.listener.count("WATCHDOG=1") == 1 }
        for expected in 2...4 {
            try await running.tick()
            #expect(running.listener.count("WATCHDOG=1") == expected)
        }
        #expect(running.watchdog.verdict == .healthy)
        #expect(running.gateway.status().watchdog == .healthy)

        try await running.stop()
        #expect(running.listener.count("STOPPING=1") == 1)
        try await stack.server.stop()
    }

    @Test func theWatchdogStopsWhileADeviceSessionIsWedgedAndResumesAfterwards() async throws {
        let stack = try await OneDeviceStack()
        defer { stack.close() }
        let wedge = SessionWedge()
        let running = try NotifiedGateway(stack: stack, wedge: wedge)
        try await running.listener.wait(for: "READY=1", logs: stack.logs)
        try await eventually("the first ping") { running.listener.count("WATCHDOG=1") == 1 }
        try await running.tick()
        #expect(running.listener.count("WATCHDOG=1") == 2)

        // The session takes a buffer and does not finish its step.
        wedge.arm()
        try stack.device.write(Array("21.5,40\n".utf8))
        try await eventually("the session held inside its step", logs: stack.logs) { wedge.holding == 1 }
        #expect(running.gateway.deviceCounters.stepSamples().contains { $0.part == "device sensor-1" && $0.pending != nil })
        // Pending at three ticks in a row (a whole interval): the third withholds the ping.
        try await running.tick()
        try await running.tick()
        #expect(running.listener.count("WATCHDOG=1") == 4)
        try await running.tick()
        #expect(running.watchdog.verdict == .withheld(["device sensor-1"]))
        for _ in 0..<3 { try await running.tick() }
        #expect(running.listener.count("WATCHDOG=1") == 4, "no WATCHDOG=1 while the session is wedged")
        #expect(stack.logs.count(containing: "device sensor-1 stuck for over") == 1)
        try await eventually("the STATUS= line says so") {
            running.listener.messages.compactMap(statusText).contains { $0.hasPrefix("UNHEALTHY, watchdog withheld (device sensor-1 stuck)") }
        }
        #expect(running.gateway.status().watchdog == .withheld(["device sensor-1"]))

        // Unwedged: the step ends, the next tick pings again.
        wedge.release()
        try await eventually("the step finished") { running.gateway.deviceCounters.stepSamples().allSatisfy { $0.pending == nil } }
        try await running.tick()
        #expect(running.watchdog.verdict == .healthy)
        #expect(running.listener.count("WATCHDOG=1") == 5)
        try await running.stop()
        try await stack.server.stop()
    }
}
