import Logging
import ServiceLifecycle
import Synchronization

/// Sends `WATCHDOG=1` every half watchdog interval while the service is healthy, and withholds it
/// while any part is stalled, so that the service manager restarts a service that still runs but
/// no longer works (`WatchdogSec=`).
///
/// Health is what the checks report, fed to a ``StallDetector``: a part whose work stays
/// unfinished for a whole interval makes the service unhealthy. Verdict changes are logged (a
/// warning naming the stalled parts, a notice when healthy again).
///
/// Time comes from `sleep`, so tests drive the ticks with a clock of their own.
public final class ServiceWatchdog: Service, Sendable {
    /// One part of the service's health: its samples at one tick. Must not block.
    public typealias Check = @Sendable () -> [StallDetector.Sample]

    /// The watchdog's last judgement.
    public enum Verdict: Sendable, Hashable {
        /// Every part answered: `WATCHDOG=1` was sent.
        case healthy
        /// These parts are stalled: `WATCHDOG=1` is withheld.
        case withheld([String])
    }

    /// The watchdog interval (`WATCHDOG_USEC`); pings go every half of it.
    public let interval: Duration
    private let notifier: ServiceNotifier
    private let checks: [Check]
    private let sleep: @Sendable (Duration) async throws -> Void
    private let logger: Logger
    private let state = Mutex((verdict: Verdict.healthy, ticks: 0, pings: 0))

    /// Creates a watchdog pinging `notifier` every `interval / 2` while `checks` report nothing stalled.
    public init(
        notifier: ServiceNotifier, interval: Duration, checks: [Check], logger: Logger,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.notifier = notifier
        self.interval = interval
        self.checks = checks
        self.sleep = sleep
        self.logger = logger
    }

    /// The verdict of the last tick.
    public var verdict: Verdict { state.withLock { $0.verdict } }
    /// Ticks done (each one a verdict, and a ping when healthy).
    public var ticks: Int { state.withLock { $0.ticks } }
    /// `WATCHDOG=1` messages sent.
    public var pings: Int { state.withLock { $0.pings } }

    /// Ticks until cancelled or graceful shutdown; put it first in a service group so that it
    /// stops last and keeps pinging while the other services drain.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var detector = StallDetector()
            while !Task.isCancelled {
                self.tick(&detector)
                do { try await self.sleep(self.interval / 2) } catch { return }
            }
        }
    }

    /// One tick: sample, judge, ping if healthy.
    func tick(_ detector: inout StallDetector) {
        let stalled = detector.observe(checks.flatMap { $0() })
        let verdict: Verdict = stalled.isEmpty ? .healthy : .withheld(stalled)
        let pinged = stalled.isEmpty && notifier.watchdog()
        let previous = state.withLock { state -> Verdict in
            defer {
                state.verdict = verdict
                state.ticks += 1
                if pinged { state.pings += 1 }
            }
            return state.verdict
        }
        guard previous != verdict else { return }
        if stalled.isEmpty {
            logger.notice("watchdog: every part answers again; WATCHDOG=1 resumed")
        } else {
            logger.warning("watchdog: \(stalled.joined(separator: ", ")) stuck for over \(interval); withholding WATCHDOG=1, so the service manager restarts the service if this lasts")
        }
    }
}
