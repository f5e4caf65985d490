/// The spool's settings (the `spool` object of the gateway config, docs/CONFIG.md).
public struct SpoolConfiguration: Sendable, Hashable {
    /// Largest total size of the segment files (default 1 GiB).
    public var maxBytes: Int
    /// Frames older than this are dropped (whole segments at a time); nil: no age limit.
    public var maxAgeSeconds: Int?
    /// What happens to a frame that does not fit.
    public var whenFull: WhenFull
    /// The longest a frame waits for its fsync (default 100 ms).
    public var commitInterval: Duration
    /// Waiting frames that trigger an fsync before the interval ends (default 10,000).
    public var commitFrames: Int
    /// Send rate cap while a backlog is sent, frames per second; nil: full speed.
    public var backlogRateLimit: Int?
    /// Size at which a segment is closed and the next one started. Nil: derived from
    /// ``maxBytes`` (a sixteenth of it, from 64 KiB to 16 MiB).
    public var segmentBytes: Int?
    /// Whether the spool commits and keeps house on its own thread. Off only in tests that drive
    /// ``Spool/commitIfDue(now:)`` with explicit instants.
    public var automaticCommit: Bool

    /// Creates settings; the defaults are the documented ones.
    public init(
        maxBytes: Int = 1 << 30, maxAgeSeconds: Int? = nil, whenFull: WhenFull = .dropOldest,
        commitInterval: Duration = .milliseconds(100), commitFrames: Int = 10_000,
        backlogRateLimit: Int? = nil, segmentBytes: Int? = nil, automaticCommit: Bool = true
    ) {
        self.maxBytes = maxBytes
        self.maxAgeSeconds = maxAgeSeconds
        self.whenFull = whenFull
        self.commitInterval = commitInterval
        self.commitFrames = commitFrames
        self.backlogRateLimit = backlogRateLimit
        self.segmentBytes = segmentBytes
        self.automaticCommit = automaticCommit
    }

    /// The segment size in effect.
    public var effectiveSegmentBytes: Int {
        segmentBytes ?? min(16 << 20, max(64 << 10, maxBytes / 16))
    }

    /// The group-commit policy these settings give.
    public var commitPolicy: GroupCommitPolicy {
        GroupCommitPolicy(interval: commitInterval, frames: commitFrames)
    }

    /// The retention policy these settings give.
    public var retentionPolicy: RetentionPolicy {
        RetentionPolicy(maxBytes: maxBytes, maxAgeMilliseconds: maxAgeSeconds.map { Int64($0) * 1000 }, whenFull: whenFull)
    }
}
