import SerialBridgeProfiles

/// Splits a frame at a delimiter byte and parses each column by its field's type.
///
/// Leading and trailing spaces of a column are ignored. A frame with a different number of columns
/// than fields, or a column that does not parse as its type, is a ``DecodeError``.
public struct DelimitedDecoder: FrameDecoder {
    /// The column separator.
    public let delimiter: UInt8
    /// Every column, including skipped ones.
    public let columns: [FieldSpec]

    /// Creates a decoder.
    public init(delimiter: UInt8, columns: [FieldSpec]) {
        self.delimiter = delimiter
        self.columns = columns
    }

    public func decode(_ frame: UnsafeRawBufferPointer) -> Result<DecodedValues, DecodeError> {
        var values: [Value] = []
        values.reserveCapacity(columns.count)
        var column = 0
        var start = 0
        var index = 0
        while index <= frame.count {
            if index == frame.count || frame[index] == delimiter {
                guard column < columns.count else {
                    return .failure(DecodeError("expected \(columns.count) fields, found more"))
                }
                let field = columns[column]
                if !field.skip {
                    let text = UnsafeRawBufferPointer(rebasing: frame[start..<index])
                    switch Self.parse(text, as: field) {
                    case .success(let value): values.append(value)
                    case .failure(let error): return .failure(error)
                    }
                }
                column += 1
                start = index + 1
            }
            index += 1
        }
        guard column == columns.count else {
            return .failure(DecodeError("expected \(columns.count) fields, found \(column)"))
        }
        return .success(DecodedValues(values))
    }

    static func parse(_ raw: UnsafeRawBufferPointer, as field: FieldSpec) -> Result<Value, DecodeError> {
        var text = raw[...]
        while let first = text.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        while let last = text.last, last == 0x20 || last == 0x09 { text = text.dropLast() }
        let string = String(decoding: text, as: UTF8.self)
        switch field.type {
        case .float:
            // Double("nan") and Double("inf") parse; devices never mean them.
            if let value = Double(string), value.isFinite { return .success(.float(value)) }
        case .integer:
            if let value = Int64(string) { return .success(.integer(value)) }
        case .string:
            return .success(.string(string))
        case .boolean:
            switch string.lowercased() {
            case "1", "true", "on", "yes": return .success(.boolean(true))
            case "0", "false", "off", "no": return .success(.boolean(false))
            default: break
            }
        }
        let shown = string.count > 32 ? String(string.prefix(32)) + "…" : string
        return .failure(DecodeError("field \"\(field.name)\": \"\(shown)\" is not a valid \(field.type.rawValue)"))
    }
}
