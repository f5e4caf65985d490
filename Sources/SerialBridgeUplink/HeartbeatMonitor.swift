/// Application-level heartbeat accounting, sans I/O: the uplink calls ``tick()`` once per heartbeat
/// interval and ``pongReceived(sentAt:now:)`` for every `pong`, and performs the returned action.
///
/// WebSocket ping frames keep NAT bindings alive, but the client library never surfaces their pongs,
/// so liveness and round-trip time are measured on JSON `ping`/`pong` messages instead.
public struct HeartbeatMonitor: Sendable {
    /// What the uplink should do at a tick.
    public enum Action: Sendable, Equatable {
        /// Send a `ping` now.
        case sendPing
        /// Too many pings went unanswered: the link is dead; close it and redial.
        case declareDead(missed: Int)
    }

    /// Unanswered pings after which the link is declared dead.
    public let allowedMisses: Int
    /// Pings sent since the last `pong`.
    public private(set) var outstanding = 0
    /// Round-trip time of the last answered ping, in milliseconds.
    public private(set) var lastRTTMilliseconds: Int64?

    /// Creates a monitor; a silent link is declared dead at the tick after `allowedMisses`
    /// unanswered pings, i.e. within `allowedMisses` intervals of the first unanswered one.
    public init(allowedMisses: Int = 3) {
        self.allowedMisses = max(1, allowedMisses)
    }

    /// Called once per heartbeat interval.
    public mutating func tick() -> Action {
        if outstanding >= allowedMisses { return .declareDead(missed: outstanding) }
        outstanding += 1
        return .sendPing
    }

    /// A `pong` arrived echoing `sentAt`; `now` is on the same clock.
    public mutating func pongReceived(sentAt: Int64, now: Int64) {
        outstanding = 0
        lastRTTMilliseconds = max(0, now - sentAt)
    }
}
