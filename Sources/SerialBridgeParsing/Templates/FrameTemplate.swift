import SerialBridgeJSON

/// Bytes to write to a device, built from parts: fixed bytes, named values encoded in binary, and
/// checksums computed over what precedes them. Polling requests, commands and the simulator's
/// binary frames are all written this way in profiles:
///
/// ```json
/// [{ "hex": "FF 01 99 00 00 00" }, { "argument": "range", "format": "u16be" },
///  { "hex": "00 00" }, { "checksum": "twos-complement8", "from": 1 }]
/// ```
public struct FrameTemplate: Sendable, Hashable {
    /// Binary encodings of a value.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        case u8, i8
        case u16be, u16le, i16be, i16le
        case u32be, u32le, i32be, i32le
        case f32be, f32le, f64be, f64le

        /// Encoded width in bytes.
        public var width: Int {
            switch self {
            case .u8, .i8: 1
            case .u16be, .u16le, .i16be, .i16le: 2
            case .f64be, .f64le: 8
            default: 4
            }
        }

        /// The range of values the format can carry exactly (floats: their finite range).
        public var range: ClosedRange<Double> {
            switch self {
            case .u8: 0...255
            case .i8: -128...127
            case .u16be, .u16le: 0...65535
            case .i16be, .i16le: -32768...32767
            case .u32be, .u32le: 0...4_294_967_295
            case .i32be, .i32le: -2_147_483_648...2_147_483_647
            case .f32be, .f32le: -Double(Float.greatestFiniteMagnitude)...Double(Float.greatestFiniteMagnitude)
            case .f64be, .f64le: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
            }
        }

        /// True for the float formats.
        public var isFloat: Bool { [.f32be, .f32le, .f64be, .f64le].contains(self) }

        /// Appends `value` in this format; integers are rounded and clamped to ``range``.
        public func encode(_ value: Double, into output: inout [UInt8]) {
            let bits: UInt64
            switch self {
            case .f32be, .f32le: bits = UInt64(Float(value).bitPattern)
            case .f64be, .f64le: bits = value.bitPattern
            default:
                let clamped = Swift.min(range.upperBound, Swift.max(range.lowerBound, value.rounded()))
                bits = UInt64(bitPattern: Int64(clamped.isNaN ? 0 : clamped))
            }
            let bigEndian = rawValue.hasSuffix("be") || width == 1
            for byteIndex in 0..<width {
                let shift = 8 * (bigEndian ? width - 1 - byteIndex : byteIndex)
                output.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
            }
        }
    }

    /// One part of a frame.
    public enum Part: Sendable, Hashable {
        /// Fixed bytes.
        case bytes([UInt8])
        /// A named value, encoded.
        case value(name: String, format: Format)
        /// A checksum over the frame's bytes from index `from` up to this part.
        case checksum(ChecksumAlgorithm, from: Int, endianness: Endianness)
    }

    /// The parts, in order.
    public var parts: [Part]

    /// Creates a template.
    public init(parts: [Part]) {
        self.parts = parts
    }

    /// A template of fixed bytes.
    public init(bytes: [UInt8]) {
        self.parts = [.bytes(bytes)]
    }

    /// The value names, in order of first use.
    public var valueNames: [String] {
        var names: [String] = []
        for case .value(let name, _) in parts where !names.contains(name) { names.append(name) }
        return names
    }

    /// The bytes, with each value taken from `value(name)`.
    public func render(_ value: (String) -> Double) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(32)
        for part in parts {
            switch part {
            case .bytes(let bytes):
                output.append(contentsOf: bytes)
            case .value(let name, let format):
                format.encode(value(name), into: &output)
            case .checksum(let algorithm, let from, let endianness):
                let sum = output[Swift.min(from, output.count)...].withUnsafeBytes { algorithm.compute($0) }
                for byteIndex in 0..<algorithm.width {
                    let shift = 8 * (endianness == .big ? algorithm.width - 1 - byteIndex : byteIndex)
                    output.append(UInt8(truncatingIfNeeded: sum >> UInt32(shift)))
                }
            }
        }
        return output
    }

    /// Reads a template given as a hex string (`"FF 01 86 00"`) or an array of parts, each
    /// `{"hex": …}`, `{"<valueKey>": NAME, "format": …}` or `{"checksum": ALGORITHM, "from": N,
    /// "endianness": …}`. Records errors in `section` under `key`.
    public static func read(_ key: String, valueKey: String, from section: inout JSONObjectReader, required: Bool = false) -> FrameTemplate? {
        guard let node = section.value(key) else {
            if required { section.fail(key: key, "is required") }
            return nil
        }
        let path = section.path(of: key)
        if case .string(let hex) = node {
            guard let bytes = Hex.decode(hex), !bytes.isEmpty else {
                section.fail(path, "must be pairs of hex digits, e.g. \"FF 01 86\", or a list of parts")
                return nil
            }
            return FrameTemplate(bytes: bytes)
        }
        guard case .array(let items) = node else {
            section.fail(path, "must be a hex string or a list of parts")
            return nil
        }
        var parts: [Part] = []
        for (index, item) in items.enumerated() {
            var part = JSONObjectReader(item, file: section.file, path: "\(path)[\(index)]")
            if let hex = part.string("hex") {
                if let bytes = Hex.decode(hex), !bytes.isEmpty { parts.append(.bytes(bytes)) } else { part.fail(key: "hex", "must be pairs of hex digits, e.g. \"AA C0\"") }
            } else if let name = part.string(valueKey) {
                if let format = part.choice("format", Format.self, required: true) { parts.append(.value(name: name, format: format)) }
            } else if let algorithm = part.choice("checksum", ChecksumAlgorithm.self) {
                let from = part.integer("from", in: 0...65535) ?? 0
                let endianness = part.choice("endianness", Endianness.self) ?? algorithm.conventionalEndianness
                parts.append(.checksum(algorithm, from: from, endianness: endianness))
            } else if part.isClean {
                part.fail(part.path, "must have one of \"hex\", \"\(valueKey)\" or \"checksum\"")
            }
            section.absorb(part)
        }
        if parts.isEmpty, section.isClean { section.fail(path, "must list at least one part") }
        return section.isClean ? FrameTemplate(parts: parts) : nil
    }
}

/// Hex text of bytes, as profiles write them: pairs of digits, spaces allowed (`"42 4D"`).
public enum Hex {
    /// The bytes, or nil when the text is not whole pairs of hex digits.
    public static func decode(_ text: String) -> [UInt8]? {
        let digits = text.filter { $0 != " " }
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    /// Uppercase pairs separated by spaces: `"FF 01 86"`.
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789ABCDEF")
        var text = ""
        for byte in bytes {
            if !text.isEmpty { text.append(" ") }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}
