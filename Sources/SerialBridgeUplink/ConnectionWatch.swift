/// The deadlines of one connection, sans I/O: the connect deadline (dial to `welcome`), the
/// maximum connection age with its rollover, and the drain at shutdown. The uplink's watchdog calls
/// ``check(now:up:drainDeadline:depth:settled:)`` at every tick with readings of its injected clock
/// and performs the returned action.
struct ConnectionWatch: Sendable, Equatable {
    /// What the watchdog should do now.
    enum Action: Sendable, Equatable {
        /// Nothing yet.
        case wait
        /// No `welcome` by the connect deadline: give up on this connection.
        case giveUp
        /// The connection reached its maximum age: stop sending, and let what is in flight settle.
        case stopSending
        /// Everything sent is acknowledged, or the settle time is over: close with 1000 and redial.
        case closeForAge
        /// Shutting down: everything is acknowledged (`drained`) or the drain deadline passed.
        case closeForShutdown(drained: Bool)
    }

    /// When `welcome` must have arrived by (dial time + connect timeout).
    let welcomeDeadline: Duration
    /// When the connection opened (its age counts from here).
    let openedAt: Duration
    /// Maximum connection age; nil: none.
    let maxAge: Duration?
    /// How long in-flight frames may take to be acknowledged at a rollover.
    let settleTimeout: Duration
    /// When a started rollover closes even if frames are still unacknowledged.
    private(set) var rolloverDeadline: Duration?

    init(dialedAt: Duration, connectTimeout: Duration, openedAt: Duration, maxAge: Duration?, settleTimeout: Duration) {
        welcomeDeadline = dialedAt + connectTimeout
        self.openedAt = openedAt
        self.maxAge = maxAge
        self.settleTimeout = settleTimeout
    }

    /// While a drain or a rollover waits for acknowledgements: how often to look.
    static let busyTick: Duration = .milliseconds(20)
    /// Otherwise: the longest wait between looks. A drain starting meanwhile is seen this late at most.
    static let quietTick: Duration = .milliseconds(250)

    /// How long the watchdog may sleep before the next ``check(now:up:drainDeadline:depth:settled:)``:
    /// often while a drain or a rollover waits for acknowledgements (`busy`), else until the next
    /// deadline (the connect deadline, the connection's maximum age) but at most ``quietTick``, so that
    /// an idle link costs four wake-ups a second, not fifty.
    func nextTick(now: Duration, busy: Bool) -> Duration {
        guard !busy else { return Self.busyTick }
        var next = now + Self.quietTick
        if now < welcomeDeadline { next = min(next, welcomeDeadline) }
        if let maxAge, now < openedAt + maxAge { next = min(next, openedAt + maxAge) }
        return max(.milliseconds(1), next - now)
    }

    /// Decides at `now`. `depth` (frames unacknowledged) is only read while draining, `settled`
    /// (all frames sent on this connection acknowledged) only during a rollover.
    mutating func check(
        now: Duration, up: Bool, drainDeadline: Duration?, depth: @autoclosure () -> Int, settled: @autoclosure () -> Bool
    ) -> Action {
        if !up {
            return now >= welcomeDeadline ? .giveUp : .wait
        }
        if let drainDeadline {
            let drained = depth() == 0
            return drained || now >= drainDeadline ? .closeForShutdown(drained: drained) : .wait
        }
        guard let maxAge, now - openedAt >= maxAge else { return .wait }
        guard let rolloverDeadline else {
            rolloverDeadline = now + settleTimeout
            return .stopSending
        }
        return settled() || now >= rolloverDeadline ? .closeForAge : .wait
    }
}
