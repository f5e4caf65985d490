import Dispatch
import Logging
import SerialBridgeProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The gateway's durable store and forward log: frames are appended in identity order to
/// segment files in the spool folder and stay there until the server acknowledges them.
///
/// - Appending writes the records (`pwrite`) and returns; it never waits for the disk. A commit
///   thread makes them durable by group commit (``GroupCommitPolicy``): one fsync for every
///   frame appended since the previous one. ``status`` shows the committed high-water mark.
/// - The sender reads frames back from the files through a cursor (``read(limit:)``), in order,
///   with bounded memory, while new frames are appended behind it; ``rewind()`` makes every
///   unacknowledged frame due again (a new connection), ``acknowledge(upTo:)`` forgets a prefix
///   (whole acknowledged segments are deleted).
/// - Limits (``RetentionPolicy``): a size quota, an optional age; when full, the oldest segment
///   is dropped or the new frame rejected, every dropped frame counted. A write that fails
///   (ENOSPC, EIO) is handled the same way: the spool never throws at the caller and never stops
///   the devices.
/// - At open, a torn last record is cut off and a damaged file is moved aside
///   (`NAME.corrupt-TIME`), each with a log line; the spool carries on with the rest.
///
/// One process at a time owns a spool folder (an exclusive `flock` on its `lock` file).
/// Appending is safe from any thread; reading is for one consumer at a time.
public final class Spool: Sendable {
    /// The spool folder.
    public let directory: String
    /// Settings.
    public let configuration: SpoolConfiguration
    /// What was found at open.
    public let recovery: SpoolRecovery
    let io: SpoolIO
    let logger: Logger
    let state: Mutex<SpoolState>
    /// The sender's open segment and read buffer (one consumer).
    let reader = Mutex(CursorReader())
    /// Commits, housekeeping and the final close run here, one at a time, off the callers' threads.
    let committer = DispatchQueue(label: "serialbridge.spool.commit")
    /// The `lock` file's descriptor; -1 once closed.
    let lockDescriptor: Mutex<Int32>

    init(directory: String, configuration: SpoolConfiguration, recovery: SpoolRecovery, state: SpoolState, lock: Int32, io: SpoolIO, logger: Logger) {
        self.directory = directory
        self.configuration = configuration
        self.recovery = recovery
        self.state = Mutex(state)
        self.lockDescriptor = Mutex(lock)
        self.io = io
        self.logger = logger
    }

    deinit {
        // Normally ``close()`` ran; otherwise release what is open, without waiting for the disk.
        state.withLock { state in
            if let writer = state.writer { Glibc.close(writer.descriptor) }
            for retired in state.retired { Glibc.close(retired.descriptor) }
            state.writer = nil
            state.retired = []
        }
        reader.withLock { $0.close() }
        lockDescriptor.withLock { descriptor in
            if descriptor >= 0 { Glibc.close(descriptor) }
            descriptor = -1
        }
    }

    /// The path of segment `number`.
    func path(_ number: UInt64) -> String { directory + "/" + SegmentFile.name(number) }

    /// Counters and marks now.
    public var status: SpoolStatus {
        state.withLock { $0.status(takenAt: Timestamp.nowMilliseconds()) }
    }

    /// Frames held and not acknowledged.
    public var depth: Int64 { state.withLock { $0.depth } }

    /// Frames neither acknowledged nor read by the sender since the last rewind.
    public var unsent: Int64 { state.withLock { $0.unsent } }

    /// Whether the sender has frames to read.
    public var hasUnsent: Bool { state.withLock { $0.hasUnsent } }

    /// Newest identity appended (this run or a previous one).
    public var lastAppended: ReadingID? { state.withLock { $0.lastAppended } }

    /// Forgets every frame up to and including `id` (a cumulative acknowledgement): deletes the
    /// segments it covers entirely, except the one being appended to. When it covers every frame
    /// appended, the pending commit has nothing left to make durable (the server holds those
    /// frames): the committed mark rises to `id` without an fsync. On a healthy link, where acks
    /// come within milliseconds, the spool then hardly ever fsyncs.
    public func acknowledge(upTo id: ReadingID) {
        let deleted = state.withLock { state -> [UInt64] in
            guard state.acknowledged.map({ $0 < id }) ?? true else { return [] }
            state.acknowledged = id
            state.version &+= 1
            state.settleAcknowledged()
            return state.forgetAcknowledged()
        }
        for number in deleted { unlink(path(number)) }
    }

    /// Makes every unacknowledged frame due again, oldest first (for a new connection).
    public func rewind() {
        state.withLock { $0.rewind() }
    }
}

/// What ``Spool/open(directory:configuration:io:lockPatience:logger:)`` found.
public struct SpoolRecovery: Sendable, Hashable {
    /// Segment files kept.
    public var segments = 0
    /// Frames kept that the server has not acknowledged.
    public var frames: Int64 = 0
    /// Newest identity kept.
    public var newest: ReadingID?
    /// The highest epoch seen in the spool, in kept and in moved-aside files (0: none). The next
    /// run's epoch must be above it.
    public var newestEpoch: Int64 = 0
    /// Torn last records cut off.
    public var tornTails = 0
    /// Files moved aside as damaged (their new paths).
    public var movedAside: [String] = []
}
