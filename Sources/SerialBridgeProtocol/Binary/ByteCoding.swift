/// Appends the primitives of the binary encodings (docs/PROTOCOL.md, "Binary messages"):
/// unsigned LEB128 varints, zigzag signed varints, big-endian fixed-width integers and floats, and
/// strings as a varint length followed by UTF-8.
struct ByteWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Runs `body` with a writer that appends to `bytes` (without copying them).
    static func append(to bytes: inout [UInt8], _ body: (inout ByteWriter) -> Void) {
        var writer = ByteWriter(capacity: 0)
        swap(&writer.bytes, &bytes)
        body(&writer)
        swap(&writer.bytes, &bytes)
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func fixed(_ value: UInt64, width: Int) {
        for index in (0..<width).reversed() { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * index))) }
    }

    mutating func string(_ text: String) {
        let utf8 = text.utf8
        varint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func raw(_ more: some Sequence<UInt8>) { bytes.append(contentsOf: more) }
}

/// Reads what ``ByteWriter`` writes, with a specific error (and the offset) for every way the
/// bytes can be wrong: truncated, overlong varint, string past the end or not UTF-8.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { max(0, bytes.count - offset) }

    mutating func byte(_ what: String) throws(MessageDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw MessageDecodingError("\(what): message ends at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint(_ what: String) throws(MessageDecodingError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let start = offset
            let next = try byte(what)
            guard shift < 64, shift < 63 || next <= 1 else { throw MessageDecodingError("\(what): varint too long at byte \(start)") }
            value |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return value }
            shift += 7
        }
    }

    mutating func signed(_ what: String) throws(MessageDecodingError) -> Int64 {
        let raw = try varint(what)
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func count(_ what: String, limit: Int) throws(MessageDecodingError) -> Int {
        let start = offset
        let value = try varint(what)
        guard value <= UInt64(limit) else { throw MessageDecodingError("\(what): \(value) is more than \(limit) at byte \(start)") }
        return Int(value)
    }

    mutating func fixed(_ what: String, width: Int) throws(MessageDecodingError) -> UInt64 {
        guard remaining >= width else { throw MessageDecodingError("\(what): message ends at byte \(bytes.count)") }
        var value: UInt64 = 0
        for _ in 0..<width {
            value = value << 8 | UInt64(bytes[offset])
            offset += 1
        }
        return value
    }

    mutating func take(_ what: String, count: Int) throws(MessageDecodingError) -> ArraySlice<UInt8> {
        guard remaining >= count else { throw MessageDecodingError("\(what): \(count) bytes announced, \(remaining) left at byte \(offset)") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func string(_ what: String) throws(MessageDecodingError) -> String {
        let length = try count(what, limit: remaining)
        let slice = try take(what, count: length)
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw MessageDecodingError("\(what): not valid UTF-8 at byte \(offset - length)")
        }
        return text
    }

    func rest() -> ArraySlice<UInt8> { bytes[min(offset, bytes.count)...] }
}
