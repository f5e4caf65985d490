/// Reconnect delays: exponential growth with full jitter, capped, never below a floor.
///
/// A pure value: the caller passes the random source, so tests pin the exact delays.
public struct Backoff: Sendable {
    /// First delay's upper bound.
    public var initial: Duration
    /// Growth factor per failed attempt.
    public var multiplier: Double
    /// Largest delay.
    public var cap: Duration
    /// Smallest delay, so full jitter never turns into a tight loop.
    public var floor: Duration
    /// Failed attempts since the last reset.
    public private(set) var attempts = 0

    /// Creates a policy.
    public init(initial: Duration = .milliseconds(500), multiplier: Double = 2, cap: Duration = .seconds(30), floor: Duration = .milliseconds(50)) {
        self.initial = initial
        self.multiplier = max(1, multiplier)
        self.cap = max(cap, initial)
        self.floor = min(floor, initial)
    }

    /// The upper bound of the next delay, without jitter.
    public var currentCeiling: Duration {
        let factor = Foundation_pow(multiplier, Double(min(attempts, 64)))
        let seconds = min(initial.seconds * factor, cap.seconds)
        return .nanoseconds(Int64(seconds * 1e9))
    }

    /// The next delay: uniform in [floor, ceiling], then the ceiling grows.
    public mutating func nextDelay(using random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = currentCeiling
        attempts += 1
        return Self.jitter(between: floor, and: ceiling, using: &random)
    }

    /// A delay near the cap, for failures that retrying soon cannot fix (a refused token).
    public mutating func capDelay(using random: inout some RandomNumberGenerator) -> Duration {
        attempts += 1
        return Self.jitter(between: cap / 2, and: cap, using: &random)
    }

    /// A short delay that is no failed attempt, for a server that went away on purpose (1001,
    /// 1012) and will be back, or another will: uniform in [floor, min(initial, 1 s)].
    public func briefDelay(using random: inout some RandomNumberGenerator) -> Duration {
        Self.jitter(between: floor, and: min(initial, .seconds(1)), using: &random)
    }

    /// Forgets past failures, after a connection stayed up long enough to count as healthy.
    public mutating func reset() { attempts = 0 }

    static func jitter(between low: Duration, and high: Duration, using random: inout some RandomNumberGenerator) -> Duration {
        let lowNanos = low.nanoseconds
        let highNanos = max(high.nanoseconds, lowNanos)
        return .nanoseconds(Int64.random(in: lowNanos...highNanos, using: &random))
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        let (whole, attos) = components
        return Double(whole) + Double(attos) / 1e18
    }

    /// The duration in whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (whole, attos) = components
        let (product, overflow) = whole.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ attos / 1_000_000_000
    }
}

/// `pow` without importing Foundation into the uplink's pure core.
func Foundation_pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 {
        result *= base
        remaining -= 1
    }
    return result
}
