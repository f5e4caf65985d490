import SerialBridgeProtocol

/// What the spool knows of one segment without reading it: its identity range, size, time range
/// and a sparse index (every ``indexStride``-th record's offset and timestamp).
///
/// A segment holds one epoch and consecutive sequence numbers, so counts follow from the first
/// and last identity, and memory stays small however many frames the spool holds (about 24 bytes
/// per ``indexStride`` frames).
public struct SegmentInfo: Sendable, Hashable {
    /// One indexed record.
    public struct Checkpoint: Sendable, Hashable {
        /// Its sequence number.
        public var sequence: Int64
        /// Its offset in the file.
        public var offset: Int
        /// Its timestamp (ms since 1970 UTC).
        public var timestamp: Int64
    }

    /// Records between two checkpoints.
    public static let indexStride: Int64 = 256

    /// File number (`NNNNNNNN.seg`).
    public let number: UInt64
    /// The epoch of every record.
    public let epoch: Int64
    /// First sequence number held.
    public let firstSequence: Int64
    /// Last sequence number held.
    public private(set) var lastSequence: Int64
    /// File size: header plus complete records.
    public private(set) var bytes: Int
    /// Timestamp of the newest record.
    public private(set) var lastTimestamp: Int64
    /// Sparse index, first record included.
    public private(set) var checkpoints: [Checkpoint]

    /// A segment whose first record is at `offset`.
    public init(number: UInt64, first header: SpoolRecord.Header, offset: Int) {
        self.number = number
        epoch = header.id.epoch
        firstSequence = header.id.sequence
        lastSequence = header.id.sequence
        bytes = offset + header.size
        lastTimestamp = header.timestamp
        checkpoints = [Checkpoint(sequence: header.id.sequence, offset: offset, timestamp: header.timestamp)]
    }

    /// Records held.
    public var count: Int64 { lastSequence - firstSequence + 1 }
    /// Identity of the first record.
    public var firstID: ReadingID { ReadingID(epoch: epoch, sequence: firstSequence) }
    /// Identity of the last record.
    public var lastID: ReadingID { ReadingID(epoch: epoch, sequence: lastSequence) }
    /// Timestamp of the oldest record.
    public var firstTimestamp: Int64 { checkpoints[0].timestamp }

    /// Whether `header` may follow the last record (same epoch, next sequence).
    public func accepts(_ header: SpoolRecord.Header) -> Bool {
        header.id.epoch == epoch && header.id.sequence == lastSequence + 1
    }

    /// Records the next record, written at the current end of the file.
    public mutating func add(_ header: SpoolRecord.Header) {
        lastSequence = header.id.sequence
        if (lastSequence - firstSequence) % Self.indexStride == 0 {
            checkpoints.append(Checkpoint(sequence: lastSequence, offset: bytes, timestamp: header.timestamp))
        }
        bytes += header.size
        lastTimestamp = header.timestamp
    }

    /// Records held with an identity above `mark` (all of them when `mark` is nil).
    public func count(after mark: ReadingID?) -> Int64 {
        guard let mark else { return count }
        if mark < firstID { return count }
        if mark >= lastID { return 0 }
        return lastSequence - mark.sequence
    }

    /// The checkpoint at or before the first record above `mark`: where a reader looking for that
    /// record starts. Nil when every record is at or below `mark`.
    public func checkpoint(after mark: ReadingID?) -> Checkpoint? {
        guard let mark, mark >= firstID else { return checkpoints[0] }
        guard mark < lastID else { return nil }
        let wanted = mark.sequence + 1
        let index = Int((wanted - firstSequence) / Self.indexStride)
        return checkpoints[min(index, checkpoints.count - 1)]
    }
}
