/// Reads the records of one segment file in order, through a reused buffer, between a start
/// offset and a limit (the file's size, or the spool's idea of where its complete records end).
/// Memory is the buffer: 256 KiB, or one record when a record is larger.
struct SegmentReader {
    /// What the next step found.
    enum Step {
        /// A valid record was passed to the body; ``offset`` is now past it.
        case record(SpoolRecord.Header)
        /// The limit was reached exactly.
        case end
        /// A record starts at ``offset`` but the limit or the file ends inside it.
        case torn(String)
        /// The bytes at ``offset`` are not a valid record.
        case invalid(String)
        /// Reading failed with this errno.
        case failed(Int32)
    }

    /// File offset of the next record.
    private(set) var offset: Int
    /// Offset at which reading stops; may grow as the file grows.
    var limit: Int
    private var buffer: [UInt8]
    /// File offset of `buffer[0]`, and how many bytes of the buffer are valid.
    private var bufferStart: Int
    private var bufferCount = 0

    init(from offset: Int, limit: Int, capacity: Int = 256 << 10) {
        self.offset = offset
        self.limit = limit
        buffer = [UInt8](repeating: 0, count: capacity)
        bufferStart = offset
    }

    /// Continues at `offset` (kept buffered bytes are reused when they cover it) up to `limit`.
    mutating func seek(to offset: Int, limit: Int) {
        self.limit = limit
        if offset < bufferStart || offset > bufferStart + bufferCount {
            bufferStart = offset
            bufferCount = 0
        }
        self.offset = offset
    }

    /// Starts over at `offset` of another file: nothing buffered is kept.
    mutating func reset(to offset: Int, limit: Int) {
        self.limit = limit
        self.offset = offset
        bufferStart = offset
        bufferCount = 0
    }

    /// The next record of `descriptor`; `body` sees its header and payload (valid only during the call).
    mutating func next(_ descriptor: Int32, _ body: (SpoolRecord.Header, UnsafeRawBufferPointer) -> Void = { _, _ in }) -> Step {
        while true {
            guard offset < limit else { return .end }
            let position = offset - bufferStart
            let scan = buffer.withUnsafeBytes { raw in
                SpoolRecord.scan(UnsafeRawBufferPointer(rebasing: raw[0..<bufferCount]), at: position)
            }
            switch scan {
            case .record(let header, let payload):
                buffer.withUnsafeBytes { body(header, UnsafeRawBufferPointer(rebasing: $0[payload])) }
                offset += header.size
                return .record(header)
            case .invalid(let reason):
                return .invalid(reason)
            case .incomplete(let needed):
                guard offset + needed <= limit else {
                    return .torn("the record at offset \(offset) needs \(needed) bytes, \(limit - offset) remain")
                }
                if let failure = refill(descriptor, needing: needed) { return failure }
            }
        }
    }

    /// Moves the unread bytes to the front and reads more; grows the buffer for a large record.
    private mutating func refill(_ descriptor: Int32, needing needed: Int) -> Step? {
        let position = offset - bufferStart
        let remaining = bufferCount - position
        if remaining > 0, position > 0 {
            buffer.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                base.copyMemory(from: base + position, byteCount: remaining)
            }
        }
        bufferStart = offset
        bufferCount = max(0, remaining)
        if buffer.count < needed { buffer.append(contentsOf: repeatElement(0, count: needed - buffer.count)) }
        let wanted = min(buffer.count - bufferCount, limit - (bufferStart + bufferCount))
        let count = Posix.read(descriptor, into: &buffer, at: bufferCount, count: wanted, offset: bufferStart + bufferCount)
        if count < 0 { return .failed(Int32(-count)) }
        if count == 0 { return .torn("the file ends at offset \(bufferStart + bufferCount), before the record at \(offset) is complete") }
        bufferCount += count
        return nil
    }
}
