import Synchronization

/// Monotonic time for sessions and login throttling, injectable so that expiry is tested without
/// waiting.
public struct AuthClock: Sendable {
    /// Time since an arbitrary fixed origin; never goes backwards.
    public var now: @Sendable () -> Duration

    /// Creates a clock from a reading function.
    public init(now: @escaping @Sendable () -> Duration) { self.now = now }

    /// The process's continuous clock.
    public static var system: AuthClock {
        let origin = ContinuousClock.now
        return AuthClock { ContinuousClock.now - origin }
    }

    /// A clock that moves only when told (tests).
    public static func manual(_ time: ManualTime) -> AuthClock {
        AuthClock { time.now }
    }

    /// The time of a manual clock.
    public final class ManualTime: Sendable {
        private let value = Mutex<Duration>(.zero)
        /// Starts at zero.
        public init() {}
        /// The current time.
        public var now: Duration { value.withLock { $0 } }
        /// Moves time forward.
        public func advance(by step: Duration) { value.withLock { $0 += step } }
    }
}
