import SerialBridgeJSON

/// `decoding.type = "binary"`: values at fixed byte offsets of a binary frame, e.g. the
/// `AA C0 … AB` frames of a Nova SDS011 dust sensor or a Modbus register block.
///
/// Each field reads ``BinaryFieldLayout/format`` at byte offset ``BinaryFieldLayout/at`` (a negative
/// offset counts from the frame's end: -1 is the last byte). Multi-byte values follow
/// ``BinaryFieldLayout/endianness``; 32- and 64-bit values sent as 16-bit words in swapped order
/// (as many Modbus devices do) also set ``BinaryFieldLayout/wordOrder``. An unsigned integer may
/// be narrowed to a bit field, and `bcd` reads packed binary-coded decimal digits.
///
/// Errors: a frame too short for a field, a BCD byte with a nibble above 9, a `u64` or BCD number
/// above `Int64.max` for an integer field, and an infinite float. A float NaN gives nil: devices
/// use it for "no reading".
public struct BinaryDecoder: FrameDecoder {
    /// Settings.
    public let configuration: BinaryDecoding

    /// Creates a decoder.
    public init(_ configuration: BinaryDecoding) { self.configuration = configuration }

    /// Decodes one frame into one value (or nil) per configured field; never traps on any input.
    public func decode(_ frame: UnsafeRawBufferPointer) -> Result<[Value?], DecodeError> {
        var values: [Value?] = []
        values.reserveCapacity(configuration.fields.count)
        for (index, field) in configuration.fields.enumerated() {
            guard index < configuration.layouts.count else {
                values.append(nil)
                continue
            }
            switch Self.read(configuration.layouts[index], as: field, from: frame) {
            case .success(let value): values.append(value)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(values)
    }

    /// Reads one field.
    static func read(_ layout: BinaryFieldLayout, as field: FieldSpec, from frame: UnsafeRawBufferPointer) -> Result<Value?, DecodeError> {
        let size = layout.size
        let start = layout.at >= 0 ? layout.at : frame.count + layout.at
        guard start >= 0, start + size <= frame.count else {
            let what = layout.format == .bcd ? "bcd of \(size) bytes" : layout.format.rawValue
            return .failure(DecodeError("field \"\(field.name)\": frame of \(frame.count) bytes is too short for \(what) at \(layout.at)"))
        }
        let bytes = UnsafeRawBufferPointer(rebasing: frame[start..<(start + size)])
        switch layout.format {
        case .bcd:
            return bcd(bytes, startingAt: start, layout: layout, field: field)
        case .f16, .f32, .f64:
            let bits = assemble(bytes, layout: layout)
            let number: Double =
                switch layout.format {
                case .f16: half(UInt16(truncatingIfNeeded: bits))
                case .f32: Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
                default: Double(bitPattern: bits)
                }
            if number.isNaN { return .success(nil) }
            guard number.isFinite else {
                return .failure(DecodeError("field \"\(field.name)\": \(layout.format.rawValue) at \(layout.at) is infinite"))
            }
            return .success(.float(number))
        case .i8, .i16, .i32, .i64:
            let shift = UInt64(64 - 8 * size)
            let signed = Int64(bitPattern: assemble(bytes, layout: layout) << shift) >> shift
            return .success(integer(signed, as: field))
        case .u8, .u16, .u32, .u64:
            var unsigned = assemble(bytes, layout: layout)
            if let bits = layout.bits {
                unsigned >>= UInt64(bits.from)
                if bits.count < 64 { unsigned &= (1 << UInt64(bits.count)) - 1 }
            }
            if field.type == .integer {
                guard let signed = Int64(exactly: unsigned) else {
                    return .failure(DecodeError("field \"\(field.name)\": \(layout.format.rawValue) value \(unsigned) at \(layout.at) exceeds the integer range"))
                }
                return .success(.integer(signed))
            }
            return .success(field.type == .boolean ? .boolean(unsigned != 0) : .float(Double(unsigned)))
        }
    }

    /// The bytes as an unsigned number, in the layout's word and byte order.
    static func assemble(_ bytes: UnsafeRawBufferPointer, layout: BinaryFieldLayout) -> UInt64 {
        let size = bytes.count
        let words = size / 2
        let swapWords = layout.wordOrder == .little && size >= 4
        var value: UInt64 = 0
        for position in 0..<size {
            // With swapped words, the word at position w of the value is word words-1-w on the wire.
            let source = swapWords ? (words - 1 - position / 2) * 2 + position % 2 : position
            let byte = UInt64(bytes[source])
            if layout.endianness == .big {
                value = value << 8 | byte
            } else {
                value |= byte << UInt64(8 * position)
            }
        }
        return value
    }

    /// IEEE 754 binary16, computed from its bits (`Float16` is unavailable on x86 Linux).
    static func half(_ bits: UInt16) -> Double {
        let exponent = Int((bits >> 10) & 0x1F)
        let fraction = Double(bits & 0x3FF)
        let magnitude: Double =
            switch exponent {
            case 0: fraction * 0x1p-24  // zero and subnormals
            case 31: fraction == 0 ? .infinity : .nan
            default: (1024 + fraction) * Double(sign: .plus, exponent: exponent - 25, significand: 1)
            }
        return bits & 0x8000 != 0 ? -magnitude : magnitude
    }

    /// `value` as `field`'s type (integer, float or boolean).
    static func integer(_ value: Int64, as field: FieldSpec) -> Value {
        switch field.type {
        case .float: .float(Double(value))
        case .boolean: .boolean(value != 0)
        default: .integer(value)
        }
    }

    /// Packed BCD: two decimal digits per byte, high nibble first; bytes in big-endian order
    /// (most significant first) unless the layout says little.
    static func bcd(_ bytes: UnsafeRawBufferPointer, startingAt start: Int, layout: BinaryFieldLayout, field: FieldSpec) -> Result<Value?, DecodeError> {
        var digits: [UInt8] = []
        digits.reserveCapacity(bytes.count * 2)
        for position in 0..<bytes.count {
            let index = layout.endianness == .big ? position : bytes.count - 1 - position
            let byte = bytes[index]
            guard byte >> 4 <= 9, byte & 0x0F <= 9 else {
                let hex = Array("0123456789ABCDEF")
                let shown = String([hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
                return .failure(DecodeError("field \"\(field.name)\": byte 0x\(shown) at \(start + index) is not packed BCD"))
            }
            digits.append(byte >> 4)
            digits.append(byte & 0x0F)
        }
        if field.type == .string {
            return .success(.string(String(decoding: digits.map { $0 + 0x30 }, as: UTF8.self)))
        }
        var number: Int64 = 0
        for digit in digits {
            let (shifted, overflowA) = number.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = shifted.addingReportingOverflow(Int64(digit))
            guard !overflowA, !overflowB else {
                let text = String(decoding: digits.map { $0 + 0x30 }, as: UTF8.self)
                return .failure(DecodeError("field \"\(field.name)\": bcd value \(text) at \(layout.at) exceeds the integer range"))
            }
            number = sum
        }
        return .success(integer(number, as: field))
    }
}

/// The formats a binary field can have.
public enum BinaryFormat: String, Sendable, Hashable, CaseIterable {
    /// Unsigned 8-bit integer.
    case u8
    /// Unsigned 16-bit integer.
    case u16
    /// Unsigned 32-bit integer.
    case u32
    /// Unsigned 64-bit integer; above `Int64.max` only as a float field.
    case u64
    /// Two's-complement signed 8-bit integer.
    case i8
    /// Two's-complement signed 16-bit integer.
    case i16
    /// Two's-complement signed 32-bit integer.
    case i32
    /// Two's-complement signed 64-bit integer.
    case i64
    /// IEEE 754 binary16 (half precision).
    case f16
    /// IEEE 754 binary32 (single precision).
    case f32
    /// IEEE 754 binary64 (double precision).
    case f64
    /// Packed binary-coded decimal, two digits per byte, `length` bytes.
    case bcd

    /// Bytes read, for every format but `bcd` (whose length is configured).
    public var size: Int {
        switch self {
        case .u8, .i8: 1
        case .u16, .i16, .f16: 2
        case .u32, .i32, .f32: 4
        case .u64, .i64, .f64: 8
        case .bcd: 0
        }
    }

    /// True for u8, u16, u32 and u64.
    public var isUnsigned: Bool { [.u8, .u16, .u32, .u64].contains(self) }

    /// True for f16, f32 and f64.
    public var isFloat: Bool { [.f16, .f32, .f64].contains(self) }

    /// The field types this format can produce; the first is the default.
    public var allowedTypes: [FieldSpec.ValueType] {
        switch self {
        case .f16, .f32, .f64: [.float]
        case .bcd: [.integer, .float, .string]
        default: [.integer, .float, .boolean]
        }
    }
}

/// Byte or word order.
public enum BinaryByteOrder: String, Sendable, Hashable, CaseIterable {
    /// Most significant first.
    case big
    /// Least significant first.
    case little
}

/// Where and how one field sits in a binary frame.
public struct BinaryFieldLayout: Sendable, Hashable {
    /// A bit field of an unsigned integer: `count` bits starting at bit `from` (0 = least
    /// significant).
    public struct Bits: Sendable, Hashable {
        /// Lowest bit, 0 = least significant.
        public var from: Int
        /// Number of bits, at least 1.
        public var count: Int

        /// Creates a bit range.
        public init(from: Int, count: Int = 1) {
            self.from = from
            self.count = count
        }
    }

    /// Byte offset; negative counts from the frame's end (-1 = last byte).
    public var at: Int
    /// Encoding of the value.
    public var format: BinaryFormat
    /// Byte order of the value (for `bcd`, the order of its bytes).
    public var endianness: BinaryByteOrder
    /// Order of the 16-bit words of a 32- or 64-bit value relative to ``endianness``; `little`
    /// swaps them (Modbus "word swap": bytes AB CD EF GH of a big-endian u32 mean 0xEFGHABCD).
    public var wordOrder: BinaryByteOrder
    /// A bit field to extract, for unsigned formats only.
    public var bits: Bits?
    /// Bytes of a `bcd` value.
    public var length: Int

    /// Creates a layout. Not validated; ``BinaryDecoding/init(reading:)`` validates.
    public init(
        at: Int, format: BinaryFormat, endianness: BinaryByteOrder = .big, wordOrder: BinaryByteOrder = .big,
        bits: Bits? = nil, length: Int? = nil
    ) {
        self.at = at
        self.format = format
        self.endianness = endianness
        self.wordOrder = wordOrder
        self.bits = bits
        self.length = length ?? max(format.size, 1)
    }

    /// Bytes this field reads.
    public var size: Int { format == .bcd ? length : format.size }
}

/// Settings of ``BinaryDecoder``.
public struct BinaryDecoding: DecoderConfiguration, Hashable {
    /// The `decoding.type` of this decoder: `binary`.
    public static let type = "binary"

    /// The fields, in output order.
    public var fields: [FieldSpec]
    /// The layout of each field.
    public var layouts: [BinaryFieldLayout]

    /// The largest offset accepted, either way (frames are at most 1 MiB).
    public static let maxOffset = 1_048_576

    /// Creates settings, one layout per field (a field without one gets no value). Not validated;
    /// ``init(reading:)`` validates.
    public init(fields: [FieldSpec], layouts: [BinaryFieldLayout]) {
        self.fields = fields
        self.layouts = layouts
    }

    /// Reads the section defaults `endianness` and `wordOrder`, and `fields`, each with `at`,
    /// `format`, and optionally `endianness`, `wordOrder`, `bits` and `length`.
    public init?(reading section: inout JSONObjectReader) {
        let endianness = section.choice("endianness", BinaryByteOrder.self) ?? .big
        let wordOrder = section.choice("wordOrder", BinaryByteOrder.self) ?? .big
        var fields: [FieldSpec] = []
        var layouts: [BinaryFieldLayout] = []
        var names: Set<String> = []
        let items = section.array("fields", required: true) ?? []
        if items.isEmpty, section.has("fields") { section.fail(key: "fields", "must list at least one field") }
        for item in items {
            var reader = JSONObjectReader(item.value, file: section.file, path: item.path)
            let layout = Self.readLayout(&reader, endianness: endianness, wordOrder: wordOrder)
            let allowed = layout?.format.allowedTypes ?? [.float]
            if let field = FieldSpec.read(&reader, defaultType: allowed[0]) {
                if !names.insert(field.name).inserted {
                    reader.fail(key: "name", "duplicate field name \"\(field.name)\"")
                }
                if let layout, !allowed.contains(field.type) {
                    let choices = allowed.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                    reader.fail(key: "type", "must be one of \(choices) for \(layout.format.rawValue), not \"\(field.type.rawValue)\"")
                }
                if let layout {
                    fields.append(field)
                    layouts.append(layout)
                }
            }
            section.absorb(reader)
        }
        guard !fields.isEmpty, section.isClean else { return nil }
        self.fields = fields
        self.layouts = layouts
    }

    /// Reads the layout keys of one field object.
    static func readLayout(_ reader: inout JSONObjectReader, endianness: BinaryByteOrder, wordOrder: BinaryByteOrder) -> BinaryFieldLayout? {
        let at = reader.integer("at", in: -maxOffset...(maxOffset - 1), required: true)
        let format = reader.choice("format", BinaryFormat.self, required: true)
        let fieldEndianness = reader.choice("endianness", BinaryByteOrder.self)
        let fieldWordOrder = reader.choice("wordOrder", BinaryByteOrder.self)
        var bits: BinaryFieldLayout.Bits?
        if var object = reader.object("bits") {
            let from = object.integer("from", in: 0...63, required: true)
            let count = object.integer("count", in: 1...64) ?? 1
            if let from, let format {
                let width = 8 * format.size
                if !format.isUnsigned {
                    reader.fail(key: "bits", "applies to unsigned formats (u8, u16, u32, u64) only, not \(format.rawValue)")
                } else if from >= width {
                    object.fail(key: "from", "must be below \(width) for \(format.rawValue)")
                } else if from + count > width {
                    object.fail(key: "count", "must be at most \(width - from): bits \(from)+\(count) exceed the \(width) bits of \(format.rawValue)")
                } else {
                    bits = BinaryFieldLayout.Bits(from: from, count: count)
                }
            }
            reader.absorb(object)
        }
        let length = reader.integer("length", in: 1...16)
        guard let at, let format else { return nil }
        if format == .bcd, length == nil, !reader.has("length") {
            reader.fail(key: "length", "is required for bcd (bytes, 2 digits each)")
        }
        if format != .bcd, reader.has("length") {
            reader.fail(key: "length", "applies to bcd only; \(format.rawValue) is \(format.size) byte\(format.size == 1 ? "" : "s")")
        }
        if fieldWordOrder != nil, format.size < 4 {
            reader.fail(key: "wordOrder", "applies to 32- and 64-bit formats only, not \(format.rawValue)")
        }
        guard reader.isClean else { return nil }
        return BinaryFieldLayout(
            at: at, format: format, endianness: fieldEndianness ?? endianness, wordOrder: fieldWordOrder ?? wordOrder,
            bits: bits, length: length
        )
    }

    /// A decoder with these settings.
    public func makeDecoder() -> any FrameDecoder { BinaryDecoder(self) }
}
