import SerialBridgeJSON
import SerialBridgeParsing

/// One value in a Modbus device's register map: where it lives, how its words encode it, and
/// the field rules (unit, scale, range) every decoder shares.
public struct ModbusRegister: Sendable, Hashable {
    /// Which register table a value is read from.
    public enum Table: String, Sendable, Hashable, CaseIterable {
        /// Function 3.
        case holding
        /// Function 4.
        case input

        /// The read function for this table.
        public var readFunction: ModbusRTU.Function { self == .holding ? .readHoldingRegisters : .readInputRegisters }
    }

    /// How the words encode the value.
    public enum DataType: String, Sendable, Hashable, CaseIterable {
        case u16, i16, u32, i32, f32, f64

        /// Registers (16-bit words) the value occupies.
        public var words: Int {
            switch self {
            case .u16, .i16: 1
            case .u32, .i32, .f32: 2
            case .f64: 4
            }
        }

        /// True for f32 and f64.
        public var isFloat: Bool { self == .f32 || self == .f64 }
    }

    /// Order of the words of a multi-word value. Bytes within a word are always big-endian (Modbus).
    public enum WordOrder: String, Sendable, Hashable, CaseIterable {
        /// Most significant word first (the common "ABCD").
        case big
        /// Least significant word first ("CDAB").
        case little
    }

    /// The value's name, unit, scale and range.
    public var field: FieldSpec
    /// Register table.
    public var table: Table
    /// Register address (0-based protocol address, as sent on the wire).
    public var address: Int
    /// Encoding.
    public var type: DataType
    /// Word order of multi-word values.
    public var wordOrder: WordOrder

    /// Creates a register.
    public init(field: FieldSpec, table: Table = .input, address: Int, type: DataType = .u16, wordOrder: WordOrder = .big) {
        self.field = field
        self.table = table
        self.address = address
        self.type = type
        self.wordOrder = wordOrder
    }

    /// Decodes the value from its words (exactly ``DataType/words`` of them, in wire order).
    public func decode<Words: RandomAccessCollection<UInt16>>(_ words: Words) -> Value {
        var ordered = Array(words)
        if wordOrder == .little { ordered.reverse() }
        var bits: UInt64 = 0
        for word in ordered { bits = bits << 16 | UInt64(word) }
        switch type {
        case .u16, .u32: return .integer(Int64(bits))
        case .i16: return .integer(Int64(Int16(truncatingIfNeeded: bits)))
        case .i32: return .integer(Int64(Int32(truncatingIfNeeded: bits)))
        case .f32:
            // The shortest decimal that names the float32 (50.02, not 50.02000045776367): what the
            // meter meant, and what a person reads on its display.
            let single = Float(bitPattern: UInt32(truncatingIfNeeded: bits))
            return .float(single.isFinite ? Double(single.description) ?? Double(single) : Double(single))
        case .f64: return .float(Double(bitPattern: bits))
        }
    }

    /// The words that encode `value` (already unscaled), in wire order; integers are rounded and clamped.
    public func encode(_ value: Double) -> [UInt16] {
        let bits: UInt64
        switch type {
        case .u16: bits = UInt64(min(65535, max(0, value.rounded())))
        case .i16: bits = UInt64(UInt16(bitPattern: Int16(min(32767, max(-32768, value.rounded())))))
        case .u32: bits = UInt64(min(4_294_967_295, max(0, value.rounded())))
        case .i32: bits = UInt64(UInt32(bitPattern: Int32(min(2_147_483_647, max(-2_147_483_648, value.rounded())))))
        case .f32: bits = UInt64(Float(value).bitPattern)
        case .f64: bits = value.bitPattern
        }
        var words: [UInt16] = []
        for index in (0..<type.words).reversed() { words.append(UInt16(truncatingIfNeeded: bits >> UInt64(16 * index))) }
        if wordOrder == .little { words.reverse() }
        return words
    }

    /// The raw number a reported value came from (undoes offset and scale), for simulators.
    public func unscaled(_ reported: Double) -> Double {
        (reported - (field.offset ?? 0)) / (field.scale ?? 1)
    }

    /// Reads one register object: the common field keys plus `table`, `address`, `type`, `wordOrder`.
    static func read(_ reader: inout JSONObjectReader, defaultTable: Table) -> ModbusRegister? {
        let table = reader.choice("table", Table.self) ?? defaultTable
        let address = reader.integer("address", in: 0...65535, required: true)
        let type = reader.choice("type", DataType.self) ?? .u16
        let wordOrder = reader.choice("wordOrder", WordOrder.self) ?? .big
        let field = FieldSpec.read(&reader, defaultType: type.isFloat ? .float : .integer, readsType: false)
        if let address, address + type.words > 65536 {
            reader.fail(key: "address", "\(type.rawValue) at \(address) runs past register 65535")
        }
        guard let field, let address, reader.isClean else { return nil }
        return ModbusRegister(field: field, table: table, address: address, type: type, wordOrder: wordOrder)
    }
}
