import SerialBridgeProtocol

/// Everything the spool holds in memory, changed only under its lock: the segments (metadata
/// only), the open segment being appended to, the marks, the send cursor and the commit
/// bookkeeping. The file I/O that goes with a change is done by ``Spool``.
struct SpoolState {
    /// The segment being appended to. It exists only once a record is in it, so it is always
    /// the last of ``segments``.
    struct Writer {
        var number: UInt64
        var descriptor: Int32
    }

    /// A descriptor of a segment no longer appended to, waiting to be fsynced (when its data
    /// must be durable) and closed by the next commit. Only commits close segment descriptors, so
    /// a descriptor is never closed while a commit syncs it.
    struct Retired {
        var descriptor: Int32
        var needsSync: Bool
    }

    /// Where the sender reads next.
    struct Cursor {
        /// Segment number (the first segment numbered at least this, when that one is gone).
        var segment: UInt64 = 0
        /// Offset of the next record in it; -1: not placed yet (at the first unacknowledged one).
        var offset: Int = -1
        /// Newest identity handed to the sender since the last rewind.
        var lastSent: ReadingID?
        /// Changes at every rewind, so a read planned before one is not applied after it.
        var generation: UInt64 = 0
    }

    var segments: [SegmentInfo] = []
    var writer: Writer?
    var nextNumber: UInt64 = 1
    /// Σ of the segments' sizes.
    var heldBytes = 0
    var lastAppended: ReadingID?
    var committed: ReadingID?
    var acknowledged: ReadingID?
    var dropped: UInt64 = 0
    /// The marks as last written to `marks.json`.
    var persisted = SpoolMarks()
    var pending = 0
    var pendingSince: ContinuousClock.Instant?
    var commitScheduled: ContinuousClock.Instant?
    var retired: [Retired] = []
    /// A segment file was created since the last commit (the folder must be fsynced too).
    var directoryDirty = false
    var cursor = Cursor()
    var commits: UInt64 = 0
    var closed = false
    /// The errno of failing writes while they fail (logged once, then when they recover).
    var failing: Int32?
    /// Changes whenever something a status shows changes.
    var version: UInt64 = 0
    var statusVersionWritten: UInt64 = .max
    var lastStatusWrite: ContinuousClock.Instant?
    /// Reused per append: the records to write, and their headers.
    var buffer: [UInt8] = []
    var bufferedHeaders: [SpoolRecord.Header] = []
    /// Frames written by the append in progress.
    var flushedCount = 0

    // MARK: Counts

    /// Frames held and not acknowledged.
    var depth: Int64 { segments.reduce(0) { $0 + $1.count(after: acknowledged) } }

    /// Frames held and neither acknowledged nor handed to the sender since the last rewind.
    var unsent: Int64 {
        let mark = Self.newer(acknowledged, cursor.lastSent)
        return segments.reduce(0) { $0 + $1.count(after: mark) }
    }

    var hasUnsent: Bool {
        guard let lastAppended else { return false }
        return Self.newer(acknowledged, cursor.lastSent).map { $0 < lastAppended } ?? true
    }

    static func newer(_ a: ReadingID?, _ b: ReadingID?) -> ReadingID? {
        guard let a else { return b }
        guard let b else { return a }
        return max(a, b)
    }

    func status(takenAt: Int64) -> SpoolStatus {
        var status = SpoolStatus()
        status.segments = segments.count
        status.bytes = heldBytes
        status.depth = depth
        status.oldestUnacknowledgedTimestamp = segments.lazy
            .compactMap { $0.checkpoint(after: acknowledged)?.timestamp }.first
        status.lastAppended = lastAppended
        status.committed = committed
        status.acknowledged = acknowledged
        status.dropped = dropped
        status.commits = commits
        status.takenAt = takenAt
        return status
    }

    // MARK: Dropping and forgetting segments

    /// Removes the `count` oldest segments, counting their unacknowledged frames as dropped.
    /// Returns the numbers of the files to delete.
    mutating func dropOldest(_ count: Int) -> [UInt64] {
        let removed = segments.prefix(count)
        for info in removed {
            dropped += UInt64(info.count(after: acknowledged))
        }
        return forget(count, sync: false)
    }

    /// Removes the oldest segments whose every frame is acknowledged, except the one being
    /// appended to. Returns the numbers of the files to delete.
    mutating func forgetAcknowledged() -> [UInt64] {
        guard let acknowledged else { return [] }
        var count = 0
        for info in segments where info.lastID <= acknowledged && info.number != writer?.number {
            count += 1
        }
        return forget(count, sync: false)
    }

    private mutating func forget(_ count: Int, sync: Bool) -> [UInt64] {
        guard count > 0 else { return [] }
        let removed = segments.prefix(count).map(\.number)
        for info in segments.prefix(count) {
            heldBytes -= info.bytes
            if let writer, writer.number == info.number {
                retired.append(Retired(descriptor: writer.descriptor, needsSync: sync))
                self.writer = nil
            }
        }
        segments.removeFirst(count)
        version &+= 1
        return removed
    }

    /// After an acknowledgement: when it covers every frame appended, nothing waits for a commit
    /// (the server holds every frame not yet fsynced here) and the committed mark rises to it.
    /// Only a folder with a new segment file still needs its fsync, for the frames to come.
    mutating func settleAcknowledged() {
        guard let acknowledged, let lastAppended, acknowledged >= lastAppended else { return }
        pending = 0
        pendingSince = nil
        for index in retired.indices { retired[index].needsSync = false }
        committed = Self.newer(committed, lastAppended)
    }

    /// Stops appending to the current segment; the next frame starts a new one.
    mutating func seal() {
        guard let writer else { return }
        retired.append(Retired(descriptor: writer.descriptor, needsSync: true))
        self.writer = nil
    }

    // MARK: The send cursor

    /// A read the sender may do outside the lock: records of segment `number` from `offset`
    /// up to `limit`, skipping identities up to `skipThrough`.
    struct ReadPlan {
        var number: UInt64
        var offset: Int
        var limit: Int
        var skipThrough: ReadingID?
        var generation: UInt64
    }

    /// Where the sender reads next; nil when it has read everything held.
    mutating func planRead() -> ReadPlan? {
        let skip = Self.newer(acknowledged, cursor.lastSent)
        while true {
            guard let index = segments.firstIndex(where: { $0.number >= cursor.segment }) else { return nil }
            let info = segments[index]
            if info.number != cursor.segment || cursor.offset < 0 {
                cursor.segment = info.number
                cursor.offset = info.checkpoint(after: skip)?.offset ?? info.bytes
            }
            guard cursor.offset < info.bytes else {
                guard index + 1 < segments.count else { return nil }
                cursor.segment = info.number + 1
                cursor.offset = -1
                continue
            }
            return ReadPlan(number: info.number, offset: cursor.offset, limit: info.bytes, skipThrough: skip, generation: cursor.generation)
        }
    }

    /// Makes every unacknowledged frame due again (a new connection), oldest first.
    mutating func rewind() {
        cursor.generation &+= 1
        cursor.lastSent = nil
        cursor.segment = 0
        cursor.offset = -1
    }

    /// Applies a read done outside the lock, unless a rewind came in between. False when the
    /// read must be discarded and planned again.
    mutating func advance(_ plan: ReadPlan, to offset: Int, lastRead: ReadingID?) -> Bool {
        guard cursor.generation == plan.generation, cursor.segment == plan.number else { return false }
        cursor.offset = offset
        if let lastRead { cursor.lastSent = Self.newer(cursor.lastSent, lastRead) }
        return true
    }

    /// Removes a segment the sender cannot read back, counting its unacknowledged frames as
    /// dropped; false when it is already gone.
    mutating func removeUnreadable(_ number: UInt64) -> Bool {
        guard let index = segments.firstIndex(where: { $0.number == number }) else { return false }
        let info = segments[index]
        dropped += UInt64(info.count(after: acknowledged))
        heldBytes -= info.bytes
        if let writer, writer.number == number {
            retired.append(Retired(descriptor: writer.descriptor, needsSync: false))
            self.writer = nil
        }
        segments.remove(at: index)
        version &+= 1
        return true
    }
}
