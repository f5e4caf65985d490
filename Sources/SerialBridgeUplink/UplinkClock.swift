/// The uplink's sense of time: monotonic readings and sleeps taken from one `Clock`, injected so
/// that tests drive backoff waits, heartbeats, the connect deadline and connection age with a
/// clock of their own instead of waiting for real time to pass.
///
/// Readings are durations since the clock was wrapped; only differences between them mean
/// anything. The TCP/TLS/upgrade part of the connect deadline runs on the event loop's timer
/// (real time), since NIO cannot be given another clock.
public struct UplinkClock: Sendable {
    private let elapsed: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration) async throws -> Void

    /// Wraps `clock`.
    public init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleeper = { try await clock.sleep(for: $0) }
    }

    /// The real monotonic clock.
    public static var continuous: UplinkClock { UplinkClock(ContinuousClock()) }

    /// Time since the clock was wrapped.
    public var now: Duration { elapsed() }

    /// Sleeps for `duration` on this clock; throws `CancellationError` when the task is cancelled.
    public func sleep(for duration: Duration) async throws {
        try await sleeper(duration)
    }
}
