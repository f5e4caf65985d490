/// Decides, tick by tick, which parts of a service are stuck: the pure core of the watchdog.
///
/// Each tick, every part reports a ``Sample``: the mark of the work it is in the middle of (a
/// probe not yet answered, a step entered but not finished), or nil when it is idle. A part is
/// stalled once the same mark has been pending at ``limit`` consecutive ticks. With ticks every
/// half watchdog interval and the default limit of 3, that is work unfinished for at least one
/// whole interval (and at most one and a half).
///
/// No clock: the caller's tick schedule is the only notion of time, so tests feed samples.
public struct StallDetector: Sendable {
    /// One part's state at one tick.
    public struct Sample: Sendable, Hashable {
        /// What the part is, for messages: "event loop 1", "device sensor-1".
        public var part: String
        /// The mark of unfinished work (a probe number, a step's start time), nil when idle.
        public var pending: UInt64?

        /// Creates a sample.
        public init(part: String, pending: UInt64?) {
            self.part = part
            self.pending = pending
        }
    }

    /// Consecutive ticks the same mark must be pending for its part to count as stalled.
    public let limit: Int
    private var seen: [String: (mark: UInt64, ticks: Int)] = [:]

    /// Creates a detector; `limit` is at least 1.
    public init(limit: Int = 3) {
        self.limit = max(1, limit)
    }

    /// Takes one tick's samples; returns the stalled parts, in sample order. Parts missing from
    /// `samples` (a session that ended) are forgotten.
    public mutating func observe(_ samples: [Sample]) -> [String] {
        var next: [String: (mark: UInt64, ticks: Int)] = [:]
        var stalled: [String] = []
        for sample in samples {
            guard let mark = sample.pending else { continue }
            var entry = (mark: mark, ticks: 1)
            if let previous = seen[sample.part], previous.mark == mark { entry.ticks = previous.ticks + 1 }
            next[sample.part] = entry
            if entry.ticks >= limit { stalled.append(sample.part) }
        }
        seen = next
        return stalled
    }
}
