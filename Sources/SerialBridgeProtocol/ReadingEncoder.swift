import SerialBridgeJSON

/// Encodes one device's readings fast: everything that is the same for every reading of the
/// device (gateway, device, profile, value names, units) is encoded once, so a reading costs only
/// its numbers. The output is byte for byte what ``MessageCodec/encode(_:)`` writes for the same
/// reading (a test holds them to it). A class: every reading waiting to be numbered refers to its
/// device's encoder, and a reference costs one count where a copy of the tables costs ten.
public final class ReadingEncoder: Sendable {
    /// The value names and units, in order.
    public let fields: [(name: String, unit: String?)]
    /// JSON `reading` messages or binary records.
    public let format: WireFormat
    // Binary: `device`, `profile` strings, and per field `name` + unit string.
    private let binaryNames: [UInt8]
    private let binaryFields: [(name: [UInt8], unit: [UInt8])]
    private let gateway: String
    private let device: String
    private let profile: String
    // `{"type":"reading","gateway":"…","epoch":`
    private let head: [UInt8]
    // `,"device":"…","profile":"…","ts":`
    private let middle: [UInt8]
    // `"name":` per field, with the comma before every field but the first.
    private let keys: [[UInt8]]
    // `},"units":{…}` when every value is present.
    private let fullUnits: [UInt8]
    // ``fullUnits`` and the closing brace, when no value is out of range too.
    private let fullUnitsClosed: [UInt8]
    // `,"values":{` and the first key.
    private let valuesAndFirstKey: [UInt8]
    // Room for the body ``writeCommonJSONBody`` writes.
    private let commonBodyBound: Int
    // Per field, `"name":"unit"` (nil: no unit), for the units of readings missing some values.
    private let unitPairs: [[UInt8]?]
    // One bit per field: every value present.
    private let allPresent: UInt64

    /// Prepares an encoder for one device.
    public init(gateway: String, device: String, profile: String, fields: [(name: String, unit: String?)], format: WireFormat = .json) {
        self.format = format
        var names = ByteWriter(capacity: 32)
        names.string(device)
        names.string(profile)
        binaryNames = names.bytes
        binaryFields = fields.map { field in
            var name = ByteWriter(capacity: 16)
            name.string(field.name)
            var unit = ByteWriter(capacity: 8)
            unit.string(field.unit ?? "")
            return (name.bytes, unit.bytes)
        }
        self.gateway = gateway
        self.device = device
        self.profile = profile
        self.fields = fields
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        writer.key("type"); writer.string("reading")
        writer.key("gateway"); writer.string(gateway)
        writer.key("epoch")
        head = writer.bytes
        var middleWriter = JSONWriter(capacity: 64)
        middleWriter.beginObject()
        middleWriter.key("device"); middleWriter.string(device)
        middleWriter.key("profile"); middleWriter.string(profile)
        middleWriter.key("ts")
        middle = [UInt8(ascii: ",")] + middleWriter.bytes.dropFirst()
        keys = fields.enumerated().map { index, field in
            var keyWriter = JSONWriter(capacity: 32)
            keyWriter.beginObject()
            keyWriter.key(field.name)
            return (index == 0 ? [] : [UInt8(ascii: ",")]) + keyWriter.bytes.dropFirst()
        }
        fullUnits = Self.units(fields.map { ($0.name, $0.unit) })
        fullUnitsClosed = fullUnits + Self.close
        valuesAndFirstKey = Self.valuesKey + (keys.first ?? [])
        unitPairs = fields.map { field in
            field.unit.map { unit in
                var pair = JSONWriter(capacity: 32)
                pair.beginObject()
                pair.key(field.name)
                pair.string(unit)
                return Array(pair.bytes.dropFirst())
            }
        }
        allPresent = fields.count >= 64 ? .max : (1 << UInt64(fields.count)) - 1
        let keysBytes = keys.reduce(0) { $0 + $1.count }
        let unitsBytes = Self.unitsKey.count + unitPairs.reduce(0) { $0 + ($1?.count ?? 0) + 1 } + Self.closeTwice.count
        commonBodyBound = middle.count + Self.valuesKey.count + valuesAndFirstKey.count + keysBytes
            + max(fullUnitsClosed.count, unitsBytes) + (fields.count + 1) * NumberText.maxLength
    }

    /// Encodes a reading whose `values` are aligned with ``fields`` (nil: not carried this time), as
    /// a JSON `reading` message or a binary record, by ``format``: ``writeIdentity(_:into:)`` then
    /// ``writeBody(timestamp:count:outOfRange:into:value:)``.
    public func encode(id: ReadingID, timestamp: Int64, values: [WireValue?], outOfRange: [String] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(head.count + middle.count + fullUnits.count + 24 * values.count + 48)
        writeIdentity(id, into: &bytes)
        writeBody(timestamp: timestamp, count: values.count, outOfRange: outOfRange, into: &bytes) { values[$0] }
        return bytes
    }

    /// Appends the start of a reading's message, up to and including its identity. The rest, the
    /// body, does not depend on the identity: a device session encodes it as soon as it parses the
    /// reading, and the outbound queue adds the identity when it numbers the reading.
    public func writeIdentity(_ id: ReadingID, into bytes: inout [UInt8]) {
        switch format {
        case .json:
            bytes.appendWriting(upTo: head.count + Self.sequenceKey.count + 2 * NumberText.maxLength) { start in
                var cursor = PointerCursor(start)
                cursor.raw(head)
                cursor.integer(id.epoch)
                cursor.raw(Self.sequenceKey)
                cursor.integer(id.sequence)
                return cursor.position - start
            }
        case .binary:
            ByteWriter.append(to: &bytes) { writer in
                writer.byte(BinaryReadings.recordKind)
                writer.varint(UInt64(bitPattern: id.epoch))
                writer.varint(UInt64(bitPattern: id.sequence))
            }
        }
    }

    /// Appends the rest of a reading's message after ``writeIdentity(_:into:)``: `value(i)` is the
    /// value of field `i` for `i` in `0..<count` (nil: not carried this time); it may be asked
    /// more than once for a field, so it must be cheap and give the same answer each time. The binary body is,
    /// with the identity before it, byte for byte what ``BinaryReadings/record(_:)`` writes.
    public func writeBody(
        timestamp: Int64, count: Int, outOfRange: [String], into bytes: inout [UInt8], value: (Int) -> WireValue?
    ) {
        switch format {
        case .json:
            if count == fields.count, count > 0, count <= 64, outOfRange.isEmpty, writeCommonJSONBody(timestamp: timestamp, into: &bytes, value: value) { return }
            JSONWriter.append(to: &bytes) { writeJSONBody(timestamp: timestamp, count: count, outOfRange: outOfRange, into: &$0, value: value) }
        case .binary:
            ByteWriter.append(to: &bytes) { writeBinaryBody(timestamp: timestamp, count: count, outOfRange: outOfRange, into: &$0, value: value) }
        }
    }

    private func writeBinaryBody(
        timestamp: Int64, count: Int, outOfRange: [String], into writer: inout ByteWriter, value: (Int) -> WireValue?
    ) {
        writer.raw(binaryNames)
        writer.signed(timestamp)
        let fieldCount = min(count, binaryFields.count)
        var present = 0
        for index in 0..<fieldCount where value(index) != nil { present += 1 }
        writer.varint(UInt64(present))
        for index in 0..<fieldCount {
            guard let value = value(index) else { continue }
            writer.raw(binaryFields[index].name)
            BinaryReadings.write(value, into: &writer)
            writer.raw(binaryFields[index].unit)
        }
        writer.varint(UInt64(outOfRange.count))
        for name in outOfRange { writer.string(name) }
    }

    /// The usual JSON body, every value a number, a boolean, a short string without escapes or
    /// absent, none out of range, written through one pointer. False, with nothing written, for
    /// any other reading.
    private func writeCommonJSONBody(timestamp: Int64, into bytes: inout [UInt8], value: (Int) -> WireValue?) -> Bool {
        var common = true
        bytes.appendWriting(upTo: commonBodyBound) { start in
            var cursor = PointerCursor(start)
            cursor.raw(middle)
            cursor.integer(timestamp)
            var present: UInt64 = 0
            for index in 0..<keys.count {
                let number: WireValue
                switch value(index) {
                case nil:
                    continue
                case let carried?:
                    number = carried
                }
                if present != 0 {
                    cursor.raw(keys[index])
                } else if index == 0 {
                    cursor.raw(valuesAndFirstKey)
                } else {
                    // The first key carries no comma; a later key after an absent first one needs it dropped.
                    cursor.raw(Self.valuesKey)
                    keys[index].withUnsafeBufferPointer { cursor.raw(UnsafeBufferPointer(rebasing: $0.dropFirst())) }
                }
                present |= 1 << UInt64(index)
                switch number {
                case .float(let number): cursor.float(number)
                case .integer(let number): cursor.integer(number)
                case .boolean(true): cursor.raw(Self.trueText)
                case .boolean(false): cursor.raw(Self.falseText)
                case .string(let text):
                    // Room for a value is NumberText.maxLength bytes (``commonBodyBound``).
                    guard cursor.plainString(text, limit: NumberText.maxLength) else {
                        common = false
                        return 0
                    }
                case .bytes:
                    common = false
                    return 0
                }
            }
            if present == 0 { cursor.raw(Self.valuesKey) }
            if present == allPresent {
                cursor.raw(fullUnitsClosed)
            } else {
                // `},"units":{…}}` with the units of the values carried.
                cursor.raw(Self.unitsKey)
                var first = true
                for index in 0..<unitPairs.count where present & (1 << UInt64(index)) != 0 {
                    guard let pair = unitPairs[index] else { continue }
                    if !first { cursor.byte(UInt8(ascii: ",")) }
                    cursor.raw(pair)
                    first = false
                }
                cursor.raw(Self.closeTwice)
            }
            return cursor.position - start
        }
        return common
    }

    /// Any other body (long or escaped strings, bytes, values out of range), through ``JSONWriter``.
    private func writeJSONBody(
        timestamp: Int64, count: Int, outOfRange: [String], into writer: inout JSONWriter, value: (Int) -> WireValue?
    ) {
        writer.raw(middle)
        writer.integer(timestamp)
        writer.raw(Self.valuesKey)
        var allPresent = true
        var first = true
        for index in 0..<min(count, keys.count) {
            guard let value = value(index) else {
                allPresent = false
                continue
            }
            // The first key carries no comma; a later key after an absent first one needs it dropped.
            if first, index > 0 { writer.raw(keys[index].dropFirst()) } else { writer.raw(keys[index]) }
            first = false
            MessageCodec.writeValue(value, into: &writer)
        }
        if allPresent && count == fields.count {
            writer.raw(fullUnits)
        } else {
            let present = (0..<min(count, fields.count)).compactMap { index in
                value(index) == nil ? nil : (fields[index].name, fields[index].unit)
            }
            writer.raw(Self.units(present))
        }
        if !outOfRange.isEmpty {
            writer.raw(Self.outOfRangeKey)
            writer.beginArray()
            for name in outOfRange { writer.string(name) }
            writer.endArray()
        }
        writer.raw(Self.close)
    }

    private static let sequenceKey = Array(#","seq":"#.utf8)
    private static let unitsKey = Array(#"},"units":{"#.utf8)
    private static let closeTwice = Array("}}".utf8)
    private static let trueText = Array("true".utf8)
    private static let falseText = Array("false".utf8)
    private static let valuesKey = Array(#","values":{"#.utf8)
    private static let outOfRangeKey = Array(#","outOfRange":"#.utf8)
    private static let close: [UInt8] = [UInt8(ascii: "}")]

    /// `},"units":{…}` for these values.
    private static func units(_ fields: [(String, String?)]) -> [UInt8] {
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        for (name, unit) in fields {
            if let unit {
                writer.key(name)
                writer.string(unit)
            }
        }
        writer.endObject()
        return Array(#"},"units":"#.utf8) + writer.bytes
    }
}
