import SerialBridgeJSON
import SerialBridgeProtocol

/// The spool at a glance: what `spool status` prints and the running gateway writes to
/// `status.json` after its commits (and once a second when something changed).
public struct SpoolStatus: Sendable, Hashable {
    /// Segment files held.
    public var segments: Int = 0
    /// Bytes of segment files on disk.
    public var bytes: Int = 0
    /// Frames held that the server has not acknowledged.
    public var depth: Int64 = 0
    /// Timestamp (ms since 1970) of the oldest unacknowledged frame, to within
    /// ``SegmentInfo/indexStride`` frames (it may read a little older); nil when none is held.
    public var oldestUnacknowledgedTimestamp: Int64?
    /// Newest frame written to the spool.
    public var lastAppended: ReadingID?
    /// Newest frame known to survive a power loss (fsynced here, or acknowledged by the server
    /// before its fsync): the committed high-water mark. For a stopped
    /// gateway, the newest frame in the files.
    public var committed: ReadingID?
    /// Newest identity the server acknowledged.
    public var acknowledged: ReadingID?
    /// Frames dropped since the spool was created (quota, age, write errors).
    public var dropped: UInt64 = 0
    /// Group commits (fsync rounds) in this run.
    public var commits: UInt64 = 0
    /// When this status was taken (ms since 1970).
    public var takenAt: Int64 = 0

    /// Creates an empty status.
    public init() {}

    /// Age of the oldest unacknowledged frame at `now`, in milliseconds.
    public func oldestAge(now: Int64) -> Int64? { oldestUnacknowledgedTimestamp.map { max(0, now - $0) } }

    /// One JSON object (`status.json`, `spool status --json`).
    public var json: [UInt8] {
        var writer = JSONWriter(capacity: 320)
        writer.beginObject()
        writer.key("segments"); writer.integer(Int64(segments))
        writer.key("bytes"); writer.integer(Int64(bytes))
        writer.key("depth"); writer.integer(depth)
        writer.key("oldestUnackedTs")
        if let oldest = oldestUnacknowledgedTimestamp { writer.integer(oldest) } else { writer.null() }
        writer.key("lastAppended"); SpoolMarks.write(lastAppended, into: &writer)
        writer.key("committed"); SpoolMarks.write(committed, into: &writer)
        writer.key("acked"); SpoolMarks.write(acknowledged, into: &writer)
        writer.key("dropped"); writer.integer(Int64(clamping: dropped))
        writer.key("commits"); writer.integer(Int64(clamping: commits))
        writer.key("takenAt"); writer.integer(takenAt)
        writer.endObject()
        return writer.bytes
    }

    /// Reads ``json``; nil when it is not such an object.
    public init?(json bytes: [UInt8]) {
        guard let node = try? JSONParser.parse(bytes), case .object = node else { return nil }
        func integer(_ key: String) -> Int64? {
            if case .integer(let value)? = node[key] { return value }
            return nil
        }
        guard let segments = integer("segments"), let bytes = integer("bytes"), let depth = integer("depth") else { return nil }
        self.segments = Int(segments)
        self.bytes = Int(bytes)
        self.depth = depth
        oldestUnacknowledgedTimestamp = integer("oldestUnackedTs")
        lastAppended = SpoolMarks.identity(node["lastAppended"])
        committed = SpoolMarks.identity(node["committed"])
        acknowledged = SpoolMarks.identity(node["acked"])
        dropped = UInt64(max(0, integer("dropped") ?? 0))
        commits = UInt64(max(0, integer("commits") ?? 0))
        takenAt = integer("takenAt") ?? 0
    }
}
