import Synchronization

/// Slows password guessing: a token bucket per client address that only failures drain. A client
/// starts with `burst` attempts; each failure takes one, and one comes back every `refill`. With
/// the bucket empty, every attempt from that address is refused (429) without checking the
/// password, so guessing runs at `1 / refill` however fast the client asks.
public struct LoginThrottle: Sendable {
    /// Failures allowed in a row.
    public var burst: Int
    /// Time for one failure to be forgiven.
    public var refill: Duration
    /// Addresses tracked at most; full buckets are forgotten first (they hold no information).
    public var maxClients: Int

    private var buckets: [String: Bucket] = [:]

    private struct Bucket {
        var tokens: Double
        var updated: Duration
    }

    /// Creates a throttle: by default 10 failures, then one more every 6 seconds.
    public init(burst: Int = 10, refill: Duration = .seconds(6), maxClients: Int = 10_000) {
        self.burst = burst
        self.refill = refill
        self.maxClients = maxClients
    }

    /// Whether `client` may try now; when not, how long until it may.
    public mutating func check(_ client: String, at now: Duration) -> Duration? {
        let tokens = level(client, at: now)
        guard tokens < 1 else { return nil }
        return refill * (1 - tokens)
    }

    /// Records a failed attempt by `client`.
    public mutating func recordFailure(_ client: String, at now: Duration) {
        let tokens = level(client, at: now)
        if buckets.count >= maxClients && buckets[client] == nil { sweep(at: now) }
        buckets[client] = Bucket(tokens: max(0, tokens - 1), updated: now)
    }

    /// The bucket's level now, refilled for the time since it was last touched.
    private func level(_ client: String, at now: Duration) -> Double {
        guard let bucket = buckets[client] else { return Double(burst) }
        let regained = (now - bucket.updated) / refill
        return min(Double(burst), bucket.tokens + regained)
    }

    private mutating func sweep(at now: Duration) {
        buckets = buckets.filter { level($0.key, at: now) < Double(burst) }
        // Every tracked client is still being throttled: forget the one closest to forgiven.
        if buckets.count >= maxClients, let fullest = buckets.max(by: { level($0.key, at: now) < level($1.key, at: now) })?.key {
            buckets.removeValue(forKey: fullest)
        }
    }
}
