/// When to make appended frames durable (fsync), decided from what is pending and the time: one
/// fsync covers every frame appended since the previous one.
///
/// A frame is committed at the latest `interval` after the oldest uncommitted frame was appended
/// (plus the time the fsync itself takes), or as soon as `frames` frames wait, whichever comes
/// first. So a burst of up to `frames` frames costs one fsync, and a steady stream at most one
/// fsync per `interval`.
///
/// Pure: time is passed in, nothing sleeps.
public struct GroupCommitPolicy: Sendable, Hashable {
    /// The longest a frame waits for its fsync.
    public var interval: Duration
    /// This many waiting frames are committed at once, before the interval ends.
    public var frames: Int

    /// What to do now.
    public enum Decision: Sendable, Hashable {
        /// Nothing is waiting.
        case idle
        /// Commit now.
        case commitNow
        /// Commit at this instant unless more frames make it due earlier.
        case commitAt(ContinuousClock.Instant)
    }

    /// Creates a policy.
    public init(interval: Duration = .milliseconds(100), frames: Int = 10_000) {
        self.interval = interval
        self.frames = max(1, frames)
    }

    /// The decision for `pending` uncommitted frames, the oldest appended at `oldestSince`.
    public func decide(pending: Int, oldestSince: ContinuousClock.Instant?, now: ContinuousClock.Instant) -> Decision {
        guard pending > 0, let oldestSince else { return .idle }
        if pending >= frames { return .commitNow }
        let due = oldestSince + interval
        return now >= due ? .commitNow : .commitAt(due)
    }
}
