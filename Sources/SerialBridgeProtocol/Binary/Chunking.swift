/// Chunking of messages larger than the negotiated maximum (docs/PROTOCOL.md, "Chunks"): the
/// message is cut into binary chunk messages `C1, id u32, index u16, count u16, total u32,
/// crc32 u32, inner kind u8, data`, each at most `chunkBytes` long, which the receiver
/// reassembles, checks (length and CRC-32 of the whole) and then handles as if it had come whole.
public enum Chunking {
    /// First byte of a chunk message.
    public static let kind: UInt8 = 0xC1
    /// Bytes before a chunk's data.
    public static let headerBytes = 18
    /// Smallest chunk size a peer may ask for.
    public static let minimumChunkBytes = 1024

    /// What the reassembled message is.
    public enum Inner: UInt8, Sendable, Hashable {
        /// A JSON text message.
        case text = 0
        /// A binary message (e.g. a reading batch).
        case binary = 1
    }

    /// Splits `message` into chunk messages of at most `chunkBytes` bytes each.
    /// - Precondition: `chunkBytes >= minimumChunkBytes` (the config validates it).
    public static func split(_ message: [UInt8], inner: Inner, id: UInt32, chunkBytes: Int) -> [[UInt8]] {
        let room = max(1, chunkBytes - headerBytes)
        let count = max(1, (message.count + room - 1) / room)
        let crc = message.withUnsafeBytes { CRC32.compute($0) }
        var chunks: [[UInt8]] = []
        chunks.reserveCapacity(count)
        for index in 0..<count {
            var writer = ByteWriter(capacity: headerBytes + room)
            writer.byte(kind)
            writer.fixed(UInt64(id), width: 4)
            writer.fixed(UInt64(index), width: 2)
            writer.fixed(UInt64(count), width: 2)
            writer.fixed(UInt64(message.count), width: 4)
            writer.fixed(UInt64(crc), width: 4)
            writer.byte(inner.rawValue)
            let start = index * room
            writer.raw(message[start..<min(message.count, start + room)])
            chunks.append(writer.bytes)
        }
        return chunks
    }
}

/// Reassembles chunked messages under hard limits, so a peer cannot make the receiver hold more
/// than ``Limits/maxBufferedBytes``: a pure value fed chunks and the current time.
public struct ChunkReassembler: Sendable {
    /// Bounds on what one connection may have in flight.
    public struct Limits: Sendable, Hashable {
        /// Largest reassembled message.
        public var maxMessageBytes: Int
        /// Most messages being reassembled at once.
        public var maxPartialMessages: Int
        /// Most bytes held across all partial messages.
        public var maxBufferedBytes: Int
        /// Nanoseconds after which an incomplete message is dropped.
        public var timeout: UInt64

        /// Creates limits (defaults: 16 MiB messages, 4 partial, 32 MiB held, 30 s).
        public init(maxMessageBytes: Int = 16 << 20, maxPartialMessages: Int = 4, maxBufferedBytes: Int = 32 << 20, timeout: UInt64 = 30_000_000_000) {
            self.maxMessageBytes = maxMessageBytes
            self.maxPartialMessages = maxPartialMessages
            self.maxBufferedBytes = maxBufferedBytes
            self.timeout = timeout
        }
    }

    /// Why a chunk was refused. ``tooLarge`` maps to close code 1009, the others to 1007/1002.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// The header is malformed or contradicts the message's earlier chunks.
        case malformed(String)
        /// The message (or what is held) would exceed the limits.
        case tooLarge(String)
        /// The reassembled message does not match its CRC-32.
        case checksumMismatch(id: UInt32)

        public var description: String {
            switch self {
            case .malformed(let why): "malformed chunk: \(why)"
            case .tooLarge(let why): "chunked message too large: \(why)"
            case .checksumMismatch(let id): "chunked message \(id): CRC-32 mismatch"
            }
        }
    }

    private struct Partial: Sendable {
        var count: Int
        var total: Int
        var crc: UInt32
        var inner: Chunking.Inner
        var bytes: [UInt8]
        var next: Int
        var started: UInt64
    }

    /// The limits in force.
    public let limits: Limits
    private var partial: [UInt32: Partial] = [:]
    private var buffered = 0
    /// Incomplete messages dropped after the timeout.
    public private(set) var expired: UInt64 = 0

    /// Creates an empty reassembler.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes held in partial messages.
    public var bufferedBytes: Int { buffered }

    /// Takes one chunk message; returns the whole message once its last chunk is in.
    /// A failure drops the message it belongs to.
    public mutating func receive(_ chunk: [UInt8], at now: UInt64) throws(Failure) -> (bytes: [UInt8], inner: Chunking.Inner)? {
        expire(at: now)
        guard chunk.count >= Chunking.headerBytes, chunk[0] == Chunking.kind else {
            throw .malformed("\(chunk.count) bytes, shorter than the \(Chunking.headerBytes)-byte header or not a chunk")
        }
        var reader = ByteReader(chunk, offset: 1)
        // The header length was checked above, so these reads cannot fail.
        let id = UInt32((try? reader.fixed("id", width: 4)) ?? 0)
        let index = Int((try? reader.fixed("index", width: 2)) ?? 0)
        let count = Int((try? reader.fixed("count", width: 2)) ?? 0)
        let total = Int((try? reader.fixed("total", width: 4)) ?? 0)
        let crc = UInt32((try? reader.fixed("crc", width: 4)) ?? 0)
        let innerByte = (try? reader.byte("inner")) ?? 0xFF
        let data = reader.rest()
        guard let inner = Chunking.Inner(rawValue: innerByte) else { throw .malformed("message \(id): unknown inner kind \(innerByte)") }
        guard count >= 1, index < count else { throw drop(id, .malformed("message \(id): index \(index) of \(count)")) }
        guard total <= limits.maxMessageBytes else {
            throw drop(id, .tooLarge("message \(id) announces \(total) bytes, the limit is \(limits.maxMessageBytes)"))
        }
        var message: Partial
        if let existing = partial[id] {
            message = existing
            guard existing.count == count, existing.total == total, existing.crc == crc, existing.inner == inner else {
                throw drop(id, .malformed("message \(id): chunk \(index) disagrees with the message's first chunk"))
            }
            guard index == existing.next else { throw drop(id, .malformed("message \(id): chunk \(index) arrived, \(existing.next) expected")) }
        } else {
            guard index == 0 else { throw .malformed("message \(id): chunk \(index) arrived before chunk 0") }
            guard partial.count < limits.maxPartialMessages else {
                throw .tooLarge("more than \(limits.maxPartialMessages) chunked messages in flight")
            }
            message = Partial(count: count, total: total, crc: crc, inner: inner, bytes: [], next: 0, started: now)
            message.bytes.reserveCapacity(min(total, 1 << 20))
        }
        guard message.bytes.count + data.count <= total else {
            throw drop(id, .malformed("message \(id): chunks carry more than the announced \(total) bytes"))
        }
        guard buffered + data.count <= limits.maxBufferedBytes else {
            throw drop(id, .tooLarge("more than \(limits.maxBufferedBytes) bytes held in partial messages"))
        }
        message.bytes.append(contentsOf: data)
        buffered += data.count
        message.next += 1
        guard message.next == count else {
            partial[id] = message
            return nil
        }
        _ = drop(id, .malformed(""))
        buffered -= data.count
        guard message.bytes.count == total else {
            throw .malformed("message \(id): \(message.bytes.count) bytes received, \(total) announced")
        }
        guard message.bytes.withUnsafeBytes({ CRC32.compute($0) }) == crc else { throw .checksumMismatch(id: id) }
        return (message.bytes, message.inner)
    }

    /// Drops incomplete messages older than the timeout.
    public mutating func expire(at now: UInt64) {
        for (id, message) in partial where now >= message.started && now - message.started >= limits.timeout {
            buffered -= message.bytes.count
            partial[id] = nil
            expired += 1
        }
    }

    /// Forgets message `id` and returns `failure`, for `throw drop(…)`.
    private mutating func drop(_ id: UInt32, _ failure: Failure) -> Failure {
        if let message = partial.removeValue(forKey: id) { buffered -= message.bytes.count }
        return failure
    }
}

/// CRC-32 (ISO-HDLC, as zlib), table-driven.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
