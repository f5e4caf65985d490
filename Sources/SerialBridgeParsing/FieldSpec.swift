import SerialBridgeJSON

/// One named value of a reading, with what every decoder shares: type, unit, scale and offset, an
/// enum table, a valid range. Decoders add their own location keys (column, offset, group, …) to the
/// same JSON object and read them themselves.
public struct FieldSpec: Sendable, Hashable {
    /// The value's type after decoding (before scale and enum mapping).
    public enum ValueType: String, Sendable, Hashable, CaseIterable {
        case float, integer, string, boolean
    }

    /// Value name, e.g. `temperature`.
    public var name: String
    /// Value type.
    public var type: ValueType
    /// Unit, e.g. `°C`.
    public var unit: String?
    /// Multiplier applied to a number (the result is a float).
    public var scale: Double?
    /// Added to a number after scaling (the result is a float).
    public var offset: Double?
    /// Integer codes mapped to labels; the value becomes the label string.
    public var enumLabels: [Int64: String]
    /// Values outside this range are reported but flagged, as EdgeX's assertions do.
    public var validRange: ClosedRange<Double>?
    /// When true the value is parsed but not reported.
    public var skip: Bool

    /// Creates a field.
    public init(
        name: String, type: ValueType = .float, unit: String? = nil, scale: Double? = nil, offset: Double? = nil,
        enumLabels: [Int64: String] = [:], validRange: ClosedRange<Double>? = nil, skip: Bool = false
    ) {
        self.name = name
        self.type = type
        self.unit = unit
        self.scale = scale
        self.offset = offset
        self.enumLabels = enumLabels
        self.validRange = validRange
        self.skip = skip
    }

    /// Reads the common keys of a field object: `name`, `type`, `unit`, `scale`, `offset`, `enum`,
    /// `range`, `skip`. The decoder reads its own keys from the same reader before or after; one
    /// whose `type` key means something else (Modbus registers) passes `readsType: false`.
    public static func read(_ field: inout JSONObjectReader, defaultType: ValueType = .float, readsType: Bool = true) -> FieldSpec? {
        let name = field.string("name", required: true)
        if let name, name.isEmpty || name.contains(where: { $0 == "\"" || $0.isNewline }) {
            field.fail(key: "name", "must be non-empty, without quotes or line breaks")
        }
        let type = (readsType ? field.choice("type", ValueType.self) : nil) ?? defaultType
        let unit = field.string("unit")
        let scale = field.number("scale")
        if scale == 0 { field.fail(key: "scale", "must not be 0") }
        let offset = field.number("offset")
        var labels: [Int64: String] = [:]
        if var table = field.object("enum") {
            for key in table.keys {
                guard let code = Int64(key) else {
                    table.fail(key: key, "enum keys must be integer codes, e.g. \"0\"")
                    _ = table.value(key)
                    continue
                }
                if let label = table.string(key) { labels[code] = label }
            }
            field.absorb(table)
        }
        var range: ClosedRange<Double>?
        if var bounds = field.object("range") {
            let low = bounds.number("min") ?? -Double.infinity
            let high = bounds.number("max") ?? Double.infinity
            if low > high {
                bounds.fail(key: "min", "must not be greater than max")
            } else {
                range = low...high
            }
            field.absorb(bounds)
        }
        let skip = field.bool("skip") ?? false
        if (scale != nil || offset != nil), type == .string || type == .boolean {
            field.fail(key: scale != nil ? "scale" : "offset", "applies to numbers only, not \(type.rawValue)")
        }
        guard let name, !name.isEmpty else { return nil }
        return FieldSpec(
            name: name, type: type, unit: unit, scale: scale, offset: offset,
            enumLabels: labels, validRange: range, skip: skip
        )
    }

    /// `number × scale`, computed as a division when the scale is 1/n for a whole n (0.1, 0.01,
    /// 0.5…): 609 × 0.1 is 60.900000000000006 in binary floating point, 609 / 10 is 60.9.
    static func scaled(_ number: Double, by scale: Double) -> Double {
        let inverse = 1 / scale
        let whole = inverse.rounded()
        if whole.magnitude >= 2, (inverse - whole).magnitude < 1e-9 * whole.magnitude { return number / whole }
        return number * scale
    }

    /// Applies enum mapping, scale and offset, and checks the valid range.
    /// - Returns: the reported value and whether it is outside ``validRange``.
    public func finish(_ raw: Value) -> (value: Value, outOfRange: Bool) {
        var value = raw
        if !enumLabels.isEmpty, case .integer(let code) = raw, let label = enumLabels[code] {
            return (.string(label), false)
        }
        if scale != nil || offset != nil, let number = raw.number {
            value = .float(Self.scaled(number, by: scale ?? 1) + (offset ?? 0))
        }
        guard let validRange, let number = value.number else { return (value, false) }
        return (value, !validRange.contains(number))
    }
}
