import SerialBridgeProtocol

/// One frame as the spool keeps it: a reading's identity, when it was made, and its encoded
/// message.
public struct SpoolFrame: Sendable, Hashable {
    /// The frame's identity; frames are appended in increasing identity order.
    public var id: ReadingID
    /// When the reading was made, milliseconds since 1970 UTC (for the age limit and status).
    public var timestamp: Int64
    /// The encoded message, sent as is.
    public var payload: [UInt8]

    /// Creates a frame.
    public init(id: ReadingID, timestamp: Int64, payload: [UInt8]) {
        self.id = id
        self.timestamp = timestamp
        self.payload = payload
    }
}

/// The on-disk layout of a record (docs/SPOOL.md), all integers little-endian:
///
/// ```
/// 0  magic    u32  "SPR1"
/// 4  crc      u32  CRC-32 of bytes 8 ..< 36 + length
/// 8  length   u32  payload length
/// 12 epoch    i64
/// 20 seq      i64
/// 28 ts       i64  milliseconds since 1970 UTC
/// 36 payload
/// ```
///
/// Pure: encodes into and decodes from byte buffers; the files are the spool's business.
public enum SpoolRecord {
    /// Bytes before the payload.
    public static let headerSize = 36
    /// `SPR1`.
    public static let magic: UInt32 = 0x3152_5053
    /// Largest payload accepted (the protocol's largest message).
    public static let maxPayload = MessageCodec.maxMessageBytes

    /// A decoded record header.
    public struct Header: Sendable, Hashable {
        /// The frame's identity.
        public var id: ReadingID
        /// Milliseconds since 1970 UTC.
        public var timestamp: Int64
        /// Payload bytes.
        public var length: Int
        /// Header plus payload.
        public var size: Int { SpoolRecord.headerSize + length }

        /// Creates a header.
        public init(id: ReadingID, timestamp: Int64, length: Int) {
            self.id = id
            self.timestamp = timestamp
            self.length = length
        }
    }

    /// What lies at an offset of a buffer.
    public enum Scan: Sendable, Hashable {
        /// A valid record; its payload is `payload` of the buffer.
        case record(Header, payload: Range<Int>)
        /// The buffer ends inside a record: `needed` bytes from the offset would hold it.
        case incomplete(needed: Int)
        /// Not a valid record: bad magic, impossible length, bad checksum or identity.
        case invalid(String)
    }

    /// The size of a record holding `payloadCount` bytes.
    public static func size(payload payloadCount: Int) -> Int { headerSize + payloadCount }

    /// Appends the record of `frame` to `buffer`.
    public static func append(_ frame: SpoolFrame, to buffer: inout [UInt8]) {
        let header = Header(id: frame.id, timestamp: frame.timestamp, length: frame.payload.count)
        append(header, payload: frame.payload[...], to: &buffer)
    }

    /// Appends the record of `header` (whose length is the payload's) and `payload` to `buffer`.
    public static func append(_ header: Header, payload: ArraySlice<UInt8>, to buffer: inout [UInt8]) {
        assert(header.length == payload.count, "a record's header must give its payload's length")
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: headerSize))
        payload.withUnsafeBufferPointer { buffer.append(contentsOf: $0) }
        buffer.withUnsafeMutableBytes { raw in
            let record = UnsafeMutableRawBufferPointer(rebasing: raw[start...])
            record.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            record.storeBytes(of: UInt32(truncatingIfNeeded: payload.count).littleEndian, toByteOffset: 8, as: UInt32.self)
            record.storeBytes(of: header.id.epoch.littleEndian, toByteOffset: 12, as: Int64.self)
            record.storeBytes(of: header.id.sequence.littleEndian, toByteOffset: 20, as: Int64.self)
            record.storeBytes(of: header.timestamp.littleEndian, toByteOffset: 28, as: Int64.self)
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: record[8...]))
            record.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
    }

    /// Decodes the record at `offset` of `bytes`, checking magic, length, checksum and identity.
    public static func scan(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Scan {
        let available = bytes.count - offset
        guard available >= headerSize else { return .incomplete(needed: headerSize) }
        let found = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        guard found == magic else { return .invalid("bad record magic") }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
        guard length <= maxPayload else { return .invalid("record length \(length) exceeds \(maxPayload)") }
        guard available >= headerSize + length else { return .incomplete(needed: headerSize + length) }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
        let covered = UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + headerSize + length)])
        guard CRC32.checksum(covered) == stored else { return .invalid("record checksum mismatch") }
        let epoch = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 12, as: Int64.self))
        let sequence = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 20, as: Int64.self))
        let timestamp = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 28, as: Int64.self))
        guard epoch > 0, sequence > 0 else { return .invalid("record identity \(epoch)/\(sequence) is not positive") }
        let header = Header(id: ReadingID(epoch: epoch, sequence: sequence), timestamp: timestamp, length: length)
        return .record(header, payload: (offset + headerSize)..<(offset + headerSize + length))
    }
}
