import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import SerialBridgeGateway
import SerialBridgeSystemd
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("sd_notify: the notify socket, the stall detector, the watchdog")
struct SystemdNotifyTests {
    @Test(arguments: [
        ("/run/systemd/notify", false),
        ("@sbtest", true),
    ])
    func usableAddresses(text: String, abstract: Bool) throws {
        let address = try #require(NotifySocketAddress(text))
        #expect(address.isAbstract == abstract)
        #expect(address.pathBytes == (abstract ? [0] + Array(text.utf8.dropFirst()) : Array(text.utf8)))
    }

    @Test(arguments: ["", "run/notify", "@", "vsock:2:1234", "/" + String(repeating: "x", count: 120), "@" + String(repeating: "x", count: 120)])
    func unusableAddressesAreRefused(text: String) {
        #expect(NotifySocketAddress(text) == nil)
    }

    @Test func messagesArriveAsDatagramsOnAPathSocket() throws {
        let directory = try TemporaryDirectory()
        let listener = try NotifyListener(directory: directory)
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.address].lookup, logger: Logger(label: "test"))
        #expect(notifier.isEnabled)
        #expect(notifier.ready(status: "two\nlines"))
        #expect(notifier.status("link up"))
        #expect(notifier.watchdog())
        #expect(notifier.reloading())
        #expect(notifier.stopping())
        let messages = listener.messages
        #expect(messages.count == 5)
        #expect(messages.first == "READY=1\nSTATUS=two lines")
        #expect(messages.dropFirst().first == "STATUS=link up")
        #expect(messages.dropFirst(2).first == "WATCHDOG=1")
        let reloading = messages.dropFirst(3).first?.split(separator: "\n") ?? []
        #expect(reloading.first == "RELOADING=1")
        let monotonic = reloading.dropFirst().first.flatMap { $0.hasPrefix("MONOTONIC_USEC=") ? UInt64($0.dropFirst(15)) : nil }
        #expect(monotonic.map { $0 > 0 && $0 <= ServiceNotifier.monotonicMicroseconds() } == true)
        #expect(messages.last == "STOPPING=1")
    }

    @Test func messagesArriveOnAnAbstractSocket() throws {
        let directory = try TemporaryDirectory()
        let listener = try NotifyListener(directory: directory, abstract: "sbtest-\(UUID().uuidString)")
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.address].lookup, logger: Logger(label: "test"))
        #expect(notifier.address?.isAbstract == true)
        #expect(notifier.ready())
        #expect(listener.messages == ["READY=1"])
    }

    @Test func withoutNotifySocketEveryMessageIsANoOp() {
        let logs = LogCapture()
        let notifier = ServiceNotifier(environment: ["WATCHDOG_USEC": "30000000"].lookup, logger: logs.logger())
        #expect(!notifier.isEnabled)
        #expect(notifier.watchdogInterval == nil)
        #expect(!notifier.ready())
        #expect(!notifier.watchdog())
        #expect(logs.messages.isEmpty)
    }

    @Test func aSocketThatIsGoneIsLoggedOnceAndNeverFatal() throws {
        let directory = try TemporaryDirectory()
        let logs = LogCapture()
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": directory.file("nobody.sock")].lookup, logger: logs.logger())
        for _ in 0..<3 { #expect(!notifier.watchdog()) }
        #expect(logs.count(containing: "cannot notify the service manager") == 1)
        let bad = LogCapture()
        let refused = ServiceNotifier(environment: ["NOTIFY_SOCKET": "relative/path"].lookup, logger: bad.logger())
        #expect(!refused.isEnabled)
        #expect(bad.count(containing: "NOTIFY_SOCKET=relative/path is not an absolute path") == 1)
    }

    @Test func theWatchdogIntervalIsForThisProcessOnly() {
        let socket = "/run/systemd/notify"
        let logger = LogCapture().logger()
        func interval(_ variables: [String: String]) -> Duration? {
            ServiceNotifier(environment: (["NOTIFY_SOCKET": socket].merging(variables) { $1 }).lookup, logger: logger).watchdogInterval
        }
        #expect(interval(["WATCHDOG_USEC": "30000000"]) == .seconds(30))
        #expect(interval(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid())"]) == .seconds(30))
        #expect(interval(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid() + 1)"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "0"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "soon"]) == nil)
        #expect(interval([:]) == nil)
    }

    @Test func aPartIsStalledWhenTheSameWorkIsPendingAtThreeTicks() {
        var detector = StallDetector()
        func tick(_ samples: [(String, UInt64?)]) -> [String] {
            detector.observe(samples.map { StallDetector.Sample(part: $0.0, pending: $0.1) })
        }
        // a: busy with step 7 for three ticks; b: busy, but with a new step each tick; c: idle.
        #expect(tick([("a", 7), ("b", 1), ("c", nil)]) == [])
        #expect(tick([("a", 7), ("b", 2), ("c", nil)]) == [])
        #expect(tick([("a", 7), ("b", 3), ("c", nil)]) == ["a"])
        #expect(tick([("a", 7), ("b", 3), ("c", 5)]) == ["a"])
        // a finishes; b is stuck at 3; c's first pending tick was the last one.
        #expect(tick([("a", nil), ("b", 3), ("c", 5)]) == ["b"])
        #expect(tick([("b", 3), ("c", 5)]) == ["b", "c"])
        // A part that is gone is forgotten; one that comes back starts counting anew.
        #expect(tick([("c", 5)]) == ["c"])
        #expect(tick([("b", 3)]) == [])
    }

    @Test func aBlockedEventLoopIsSeenAndForgivenOnceItRunsAgain() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let probe = EventLoopProbe(group: group)
        var detector = StallDetector()
        // A free loop answers each probe before the next sample.
        for _ in 0..<3 {
            #expect(detector.observe(probe.sample()) == [])
            try await group.next().submit {}.get()
        }
        // Blocked: the outstanding probe stays pending.
        let release = DispatchSemaphore(value: 0)
        group.next().execute { release.wait() }
        #expect(detector.observe(probe.sample()) == [])
        #expect(detector.observe(probe.sample()) == [])
        #expect(detector.observe(probe.sample()) == ["event loop 0"])
        release.signal()
        try await group.next().submit {}.get()
        #expect(detector.observe(probe.sample()) == [])
        try await group.shutdownGracefully()
    }

    @Test func theWatchdogPingsEveryHalfIntervalAndWithholdsWhileAPartIsStalled() async throws {
        let directory = try TemporaryDirectory()
        let listener = try NotifyListener(directory: directory)
        let logs = LogCapture()
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": listener.address].lookup, logger: logs.logger())
        let pending = Mutex<UInt64?>(nil)
        let clock = ManualClock()
        let watchdog = ServiceWatchdog(
            notifier: notifier, interval: .seconds(30), checks: [{ [StallDetector.Sample(part: "device d", pending: pending.withLock { $0 })] }],
            logger: logs.logger(), sleep: { try await clock.sleep(for: $0) }
        )
        let task = Task { try await watchdog.run() }
        defer { task.cancel() }
        @Sendable func tick() async throws {
            let before = watchdog.ticks
            try await eventually("the watchdog asleep") { clock.sleeping == 1 }
            clock.advance(by: .seconds(15))
            try await eventually("tick \(before + 1)") { watchdog.ticks == before + 1 }
        }
        try await eventually("the first tick") { watchdog.ticks == 1 }
        #expect(listener.count("WATCHDOG=1") == 1)
        try await tick()
        #expect(listener.count("WATCHDOG=1") == 2)
        // A step begins and never ends: two more pings (it may just be slow), then none.
        pending.withLock { $0 = 42 }
        try await tick()
        try await tick()
        #expect(listener.count("WATCHDOG=1") == 4)
        try await tick()
        #expect(watchdog.verdict == .withheld(["device d"]))
        try await tick()
        #expect(listener.count("WATCHDOG=1") == 4)
        #expect(logs.count(containing: "device d stuck for over 30.0 seconds; withholding WATCHDOG=1") == 1)
        // It finishes: pings resume at the next tick.
        pending.withLock { $0 = nil }
        try await tick()
        #expect(watchdog.verdict == .healthy)
        #expect(listener.count("WATCHDOG=1") == 5)
        #expect(logs.count(containing: "WATCHDOG=1 resumed") == 1)
        #expect(watchdog.pings == 5)
    }
}

@Suite("Reload and status line: what a SIGHUP applies, what STATUS= says")
struct ReloadPlanTests {
    func config(_ directory: TemporaryDirectory, name: String, gateway: String, ports: [String], logLevel: String) throws -> GatewayConfig {
        let entries = ports.map { #"{ "device": "\#($0)", "path": "/dev/\#($0)", "profile": "generic-csv-lines" }"# }.joined(separator: ", ")
        try directory.write(name, """
        { "gatewayId": "\(gateway)", "server": { "url": "ws://127.0.0.1:1/gateway/v1", "tokenFile": "token" },
          "ports": [\(entries)], "logLevel": "\(logLevel)" }
        """)
        return try GatewayConfig.load(file: directory.file(name))
    }

    @Test func portsApplyLiveWhileIdentityAndLogLevelWaitForARestart() throws {
        let directory = try TemporaryDirectory()
        let running = try config(directory, name: "a.json", gateway: "gw-1", ports: ["ttyA"], logLevel: "info")
        let same = ConfigReload(running: running, fresh: try config(directory, name: "b.json", gateway: "gw-1", ports: ["ttyA"], logLevel: "info"))
        #expect(same.applied.isEmpty)
        #expect(same.needsRestart.isEmpty)
        let changed = ConfigReload(running: running, fresh: try config(directory, name: "c.json", gateway: "gw-2", ports: ["ttyA", "ttyB"], logLevel: "debug"))
        #expect(changed.applied == ["ports"])
        #expect(changed.needsRestart == ["gatewayId", "logLevel"])
        #expect(changed.config.ports.map(\.device) == ["ttyA", "ttyB"])
        #expect(changed.config.gatewayId == "gw-1")
        #expect(changed.config.logLevel == "info")
    }

    @Test func theStatusLineNamesLinkDevicesSpoolAndAStuckPart() {
        var open = DeviceCounterBoard.Counts()
        open.open = true
        let devices = ["a": open, "b": DeviceCounterBoard.Counts()]
        #expect(ServiceStatusLine.text(link: .up, server: "ws://h/gateway/v1", devices: devices, depth: 1, watchdog: .healthy)
            == "link up to ws://h/gateway/v1; 1 of 2 devices attached; spool 1 frame unacknowledged")
        #expect(ServiceStatusLine.text(link: .waiting, server: "ws://h/gateway/v1", devices: [:], depth: 12, watchdog: nil)
            == "link down, retrying ws://h/gateway/v1; 0 of 0 devices attached; spool 12 frames unacknowledged")
        #expect(ServiceStatusLine.text(link: .up, server: "ws://h", devices: ["a": open], depth: 0, watchdog: .withheld(["device a"]))
            == "UNHEALTHY, watchdog withheld (device a stuck); link up to ws://h; 1 of 1 device attached; spool 0 frames unacknowledged")
    }
}

extension Dictionary where Key == String, Value == String {
    /// The dictionary as an environment lookup.
    var lookup: @Sendable (String) -> String? {
        let copy = self
        return { copy[$0] }
    }
}
