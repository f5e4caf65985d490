/// A gateway's allowance: `perSecond` readings (or other messages) on average, `burst` at once.
public struct RateLimit: Sendable, Hashable {
    /// Sustained rate.
    public var perSecond: Double
    /// How many may arrive back to back before pacing starts.
    public var burst: Double

    /// Creates a limit; `burst` defaults to one second's worth.
    public init(perSecond: Double, burst: Double? = nil) {
        self.perSecond = perSecond
        self.burst = burst ?? perSecond
    }
}

/// A token bucket that paces instead of refusing: taking more than is left puts the bucket in
/// debt, and the caller waits until the debt is repaid. Pacing a gateway loses nothing (its spool
/// holds what waits) and slows a replaying backlog to what the server grants each gateway.
///
/// Pure: the time is passed in (nanoseconds on any monotonic clock), so tests drive it.
struct TokenBucket: Sendable {
    let limit: RateLimit
    private var tokens: Double
    private var updated: UInt64

    init(limit: RateLimit, now: UInt64) {
        self.limit = limit
        self.tokens = limit.burst
        self.updated = now
    }

    /// Takes `count` tokens; returns how long (ns) to wait before going on (0 when within the limit).
    mutating func take(_ count: Int, at now: UInt64) -> UInt64 {
        if now > updated {
            tokens = min(limit.burst, tokens + Double(now - updated) / 1e9 * limit.perSecond)
            updated = now
        }
        tokens -= Double(count)
        guard tokens < 0 else { return 0 }
        return UInt64((-tokens / limit.perSecond * 1e9).rounded(.up))
    }
}
