import SerialBridgeProtocol

/// Frames laid end to end in one byte buffer: how batches go into the spool and come back out of
/// it. One buffer and one table for the whole batch rather than an array per frame, so appending
/// and reading back cost no allocation per reading.
public struct SpoolFrames: Sendable, RandomAccessCollection {
    /// One frame of the batch: its identity and timestamp, and where its payload lies in ``bytes``.
    public struct Entry: Sendable, Hashable {
        /// The frame's identity.
        public var id: ReadingID
        /// Milliseconds since 1970 UTC.
        public var timestamp: Int64
        /// Where the payload lies in ``SpoolFrames/bytes``.
        public var payloadRange: Range<Int>
    }

    /// Every payload, in order.
    public private(set) var bytes: [UInt8]
    private var entries: [Entry]

    /// An empty batch with room for about `frames` frames of `bytes` payload bytes in all.
    public init(reservingFrames frames: Int = 0, bytes: Int = 0) {
        self.bytes = []
        self.bytes.reserveCapacity(bytes)
        entries = []
        entries.reserveCapacity(frames)
    }

    /// A batch of separately held frames (tests, tools).
    public init(_ frames: [SpoolFrame]) {
        self.init(reservingFrames: frames.count, bytes: frames.reduce(0) { $0 + $1.payload.count })
        for frame in frames { append(id: frame.id, timestamp: frame.timestamp) { $0.append(contentsOf: frame.payload) } }
    }

    /// The first frame's position (0).
    public var startIndex: Int { entries.startIndex }
    /// One past the last frame's position.
    public var endIndex: Int { entries.endIndex }
    /// The frame at `position`.
    public subscript(position: Int) -> Entry { entries[position] }

    /// The payload of `entry`.
    public func payload(_ entry: Entry) -> ArraySlice<UInt8> { bytes[entry.payloadRange] }

    /// Each frame with a payload array of its own (tests, tools; the hot path reads ``bytes``).
    public var frames: [SpoolFrame] {
        entries.map { SpoolFrame(id: $0.id, timestamp: $0.timestamp, payload: Array(bytes[$0.payloadRange])) }
    }

    /// Appends a frame whose payload `write` appends to the buffer it is given (and nothing else).
    public mutating func append(id: ReadingID, timestamp: Int64, writingPayload write: (inout [UInt8]) -> Void) {
        let start = bytes.count
        write(&bytes)
        entries.append(Entry(id: id, timestamp: timestamp, payloadRange: start..<bytes.count))
    }

    /// Appends a frame whose payload is `payload`.
    public mutating func append(id: ReadingID, timestamp: Int64, payload: UnsafeRawBufferPointer) {
        append(id: id, timestamp: timestamp) { $0.append(contentsOf: payload) }
    }

    /// Empties the batch, keeping its storage for the next one unless a burst made it larger
    /// than ``keptCapacity``.
    public mutating func removeAll() {
        guard bytes.capacity <= Self.keptCapacity else {
            self = SpoolFrames()
            return
        }
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    /// The most payload bytes a reused batch keeps allocated between uses (1 MiB): an ordinary
    /// loop turn's readings fit many times over, a rare burst's are given back.
    public static let keptCapacity = 1 << 20
}
