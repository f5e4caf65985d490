/// Caps the send rate (frames per second) with a token bucket holding one second's worth of
/// frames: a sender that keeps below the rate is never delayed, a backlog drains at the rate.
///
/// Pure and exact: time is passed in and counted in integer nanoseconds; the caller sleeps
/// until the instant it is told.
public struct BacklogRateLimiter: Sendable, Hashable {
    /// Frames per second.
    public let rate: Int
    /// Nanoseconds of sending earned and not spent, at most one second's.
    private var credit: Int64
    /// Nanoseconds one frame costs.
    private let cost: Int64
    private var last: ContinuousClock.Instant?
    private static let second: Int64 = 1_000_000_000

    /// What the sender may do now.
    public enum Grant: Sendable, Hashable {
        /// Send this many frames now (at least one).
        case send(Int)
        /// Send nothing before this instant.
        case waitUntil(ContinuousClock.Instant)
    }

    /// A limiter at `rate` frames per second, with a full bucket.
    public init(rate: Int) {
        self.rate = max(1, rate)
        cost = max(1, Self.second / Int64(self.rate))
        credit = Self.second
    }

    /// Takes up to `wanted` frames' worth of the bucket at `now`.
    public mutating func grant(_ wanted: Int, now: ContinuousClock.Instant) -> Grant {
        if let last, now > last {
            let elapsed = now - last
            let nanoseconds = elapsed.components.seconds * Self.second + elapsed.components.attoseconds / 1_000_000_000
            credit = min(Self.second, credit + nanoseconds)
        }
        last = max(last ?? now, now)
        guard credit >= cost else { return .waitUntil(now + .nanoseconds(cost - credit)) }
        let granted = min(Int64(max(1, wanted)), credit / cost)
        credit -= granted * cost
        return .send(Int(granted))
    }

    /// Returns the part of a grant that was not used (fewer frames were there to send).
    public mutating func giveBack(_ unused: Int) {
        credit = min(Self.second, credit + Int64(max(0, unused)) * cost)
    }
}
