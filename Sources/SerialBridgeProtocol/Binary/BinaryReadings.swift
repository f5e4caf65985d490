/// The compact binary encoding of readings (docs/PROTOCOL.md, "Binary readings"): a WebSocket
/// binary message `B1, gateway, count, record…`, each record `B0, epoch, seq, device, profile, ts,
/// values, out-of-range names` with strings as varint length + UTF-8 and numbers as varints.
///
/// A record is complete in itself, so a gateway can keep each one as it was encoded (in its spool)
/// and put any run of them in one message without re-encoding.
public enum BinaryReadings {
    /// First byte of a binary batch message.
    public static let batchKind: UInt8 = 0xB1
    /// First byte of every record.
    public static let recordKind: UInt8 = 0xB0
    /// Most records one message may carry.
    public static let maxRecords = 100_000

    enum Tag: UInt8 {
        case float = 0, integer = 1, string = 2, falseValue = 3, trueValue = 4, bytes = 5
    }

    /// One reading's record.
    public static func record(_ reading: Reading) -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + 24 * reading.values.count)
        writer.byte(recordKind)
        writer.varint(UInt64(bitPattern: reading.id.epoch))
        writer.varint(UInt64(bitPattern: reading.id.sequence))
        writer.string(reading.device)
        writer.string(reading.profile)
        writer.signed(reading.timestamp)
        writer.varint(UInt64(reading.values.count))
        for named in reading.values {
            writer.string(named.name)
            write(named.value, into: &writer)
            writer.string(named.unit ?? "")
        }
        writer.varint(UInt64(reading.outOfRange.count))
        for name in reading.outOfRange { writer.string(name) }
        return writer.bytes
    }

    static func write(_ value: WireValue, into writer: inout ByteWriter) {
        switch value {
        case .float(let number):
            writer.byte(Tag.float.rawValue)
            writer.fixed(number.bitPattern, width: 8)
        case .integer(let number):
            writer.byte(Tag.integer.rawValue)
            writer.signed(number)
        case .string(let text):
            writer.byte(Tag.string.rawValue)
            writer.string(text)
        case .boolean(let flag):
            writer.byte(flag ? Tag.trueValue.rawValue : Tag.falseValue.rawValue)
        case .bytes(let bytes):
            writer.byte(Tag.bytes.rawValue)
            writer.varint(UInt64(bytes.count))
            writer.raw(bytes)
        }
    }

    /// A batch message of already encoded records.
    public static func batch(gateway: String, records: some Collection<[UInt8]>) -> [UInt8] {
        let (bytes, ranges) = MessageCodec.laidEndToEnd(records)
        return batch(gateway: gateway, records: ranges, of: bytes)
    }

    /// ``batch(gateway:records:)`` for records laid end to end in one buffer: `records` are their
    /// ranges in `bytes`.
    public static func batch(gateway: String, records: [Range<Int>], of bytes: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + gateway.utf8.count + records.reduce(0) { $0 + $1.count })
        writer.byte(batchKind)
        writer.string(gateway)
        writer.varint(UInt64(records.count))
        for record in records { writer.raw(bytes[record]) }
        return writer.bytes
    }

    /// Decodes a batch message into readings, strictly: every byte accounted for.
    public static func decodeBatch(_ bytes: [UInt8]) throws(MessageDecodingError) -> [Reading] {
        var reader = ByteReader(bytes)
        guard try reader.byte("batch kind") == batchKind else {
            throw MessageDecodingError("binary message kind 0x\(String(bytes[0], radix: 16)) is not a reading batch (0xb1)")
        }
        let gateway = try reader.string("batch gateway")
        let count = try reader.count("batch count", limit: min(maxRecords, reader.remaining))
        var readings: [Reading] = []
        readings.reserveCapacity(count)
        for index in 0..<count {
            readings.append(try decodeRecord(&reader, gateway: gateway, index: index))
        }
        guard reader.isAtEnd else { throw MessageDecodingError("batch: \(reader.remaining) bytes after the last record") }
        return readings
    }

    static func decodeRecord(_ reader: inout ByteReader, gateway: String, index: Int) throws(MessageDecodingError) -> Reading {
        let what = "record \(index)"
        guard try reader.byte(what) == recordKind else { throw MessageDecodingError("\(what): does not start with 0xb0 at byte \(reader.offset - 1)") }
        let epoch = try reader.varint("\(what).epoch")
        let sequence = try reader.varint("\(what).seq")
        guard epoch >= 1, epoch <= UInt64(Int64.max), sequence >= 1, sequence <= UInt64(Int64.max) else {
            throw MessageDecodingError("\(what): epoch and seq must be from 1 to 2^63-1")
        }
        let device = try reader.string("\(what).device")
        let profile = try reader.string("\(what).profile")
        let timestamp = try reader.signed("\(what).ts")
        let valueCount = try reader.count("\(what).values", limit: reader.remaining)
        var values: [NamedValue] = []
        values.reserveCapacity(valueCount)
        for _ in 0..<valueCount {
            let name = try reader.string("\(what).value name")
            let tagByte = try reader.byte("\(what).\(name) tag")
            let value: WireValue
            switch Tag(rawValue: tagByte) {
            case .float: value = .float(Double(bitPattern: try reader.fixed("\(what).\(name)", width: 8)))
            case .integer: value = .integer(try reader.signed("\(what).\(name)"))
            case .string: value = .string(try reader.string("\(what).\(name)"))
            case .falseValue: value = .boolean(false)
            case .trueValue: value = .boolean(true)
            case .bytes:
                let length = try reader.count("\(what).\(name) length", limit: reader.remaining)
                value = .bytes(Array(try reader.take("\(what).\(name)", count: length)))
            case nil: throw MessageDecodingError("\(what).\(name): unknown value tag \(tagByte)")
            }
            let unit = try reader.string("\(what).\(name) unit")
            values.append(NamedValue(name: name, value: value, unit: unit.isEmpty ? nil : unit))
        }
        let flagCount = try reader.count("\(what).outOfRange", limit: reader.remaining)
        var flags: [String] = []
        for _ in 0..<flagCount { flags.append(try reader.string("\(what).outOfRange")) }
        return Reading(
            gateway: gateway, id: ReadingID(epoch: Int64(epoch), sequence: Int64(sequence)), device: device,
            profile: profile, timestamp: timestamp, values: values, outOfRange: flags
        )
    }
}
