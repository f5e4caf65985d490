/// What the spool does when full.
public enum WhenFull: String, Sendable, Hashable, CaseIterable {
    /// Drop the oldest segment (its unacknowledged frames are counted as dropped) to make room.
    case dropOldest
    /// Refuse the new frame (counted as dropped); what is held stays.
    case rejectNewest
}

/// The spool's limits, decided over segment sizes and times: a size quota on the files, an
/// optional maximum age, and what happens when a frame does not fit.
///
/// Pure: the spool passes what it holds and the time, and performs the verdict.
public struct RetentionPolicy: Sendable, Hashable {
    /// Largest total size of the segment files.
    public var maxBytes: Int
    /// Segments whose newest frame is older than this (milliseconds) are dropped; nil: no limit.
    public var maxAgeMilliseconds: Int64?
    /// What to do when a frame does not fit.
    public var whenFull: WhenFull

    /// Whether a frame is taken, and what must go first.
    public enum Verdict: Sendable, Hashable {
        /// Take it after dropping this many of the oldest segments (0: it fits).
        case admit(droppingOldest: Int)
        /// Refuse it.
        case reject
    }

    /// Creates a policy.
    public init(maxBytes: Int, maxAgeMilliseconds: Int64? = nil, whenFull: WhenFull = .dropOldest) {
        self.maxBytes = maxBytes
        self.maxAgeMilliseconds = maxAgeMilliseconds
        self.whenFull = whenFull
    }

    /// The verdict for `incoming` bytes given the held segments' sizes, oldest first.
    /// `incoming` should include room for a segment header, in case the frame starts a segment.
    public func admit(incoming: Int, segments: some Collection<Int>) -> Verdict {
        guard incoming <= maxBytes else { return .reject }
        var total = segments.reduce(0, +)
        guard total + incoming > maxBytes else { return .admit(droppingOldest: 0) }
        guard whenFull == .dropOldest else { return .reject }
        var dropping = 0
        for size in segments where total + incoming > maxBytes {
            total -= size
            dropping += 1
        }
        return .admit(droppingOldest: dropping)
    }

    /// How many of the oldest segments have expired at `now` (ms since 1970), given each
    /// segment's newest timestamp, oldest segment first.
    public func expired(newestTimestamps: some Collection<Int64>, now: Int64) -> Int {
        guard let maxAgeMilliseconds else { return 0 }
        var count = 0
        for newest in newestTimestamps {
            guard now - newest > maxAgeMilliseconds else { break }
            count += 1
        }
        return count
    }
}
