import SerialBridgeJSON

/// `decoding.type = "delimited"`: CSV, TSV and the like. Columns are split at `delimiter`; a column
/// that starts with the quote character runs to its closing quote (a doubled quote inside stands for
/// one), so delimiters inside quotes are data. Spaces and tabs around unquoted columns are ignored.
///
/// Each field takes the next column, or the one named by its `column` key (0-based).
public struct DelimitedDecoder: FrameDecoder {
    /// Settings.
    public let configuration: DelimitedDecoding

    /// Creates a decoder.
    public init(_ configuration: DelimitedDecoding) { self.configuration = configuration }

    public func decode(_ frame: UnsafeRawBufferPointer) -> Result<[Value?], DecodeError> {
        // Column boundaries live on the stack: no allocation per frame for the split itself.
        withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: configuration.columnCount) { columns in
            decode(frame, columns: columns)
        }
    }

    private func decode(_ frame: UnsafeRawBufferPointer, columns: UnsafeMutableBufferPointer<Range<Int>>) -> Result<[Value?], DecodeError> {
        let delimiter = configuration.delimiter
        let quote = configuration.quote
        var columnCount = 0
        var quotedColumns: UInt64 = 0
        var index = 0
        let count = frame.count
        while true {
            guard columnCount < configuration.columnCount else {
                return .failure(DecodeError("expected \(configuration.columnCount) fields, found more"))
            }
            var start = index
            var end = index
            if let quote, index < count, frame[index] == quote {
                // Quoted column: find the closing quote, skipping doubled quotes.
                var cursor = index + 1
                var closed = false
                while cursor < count {
                    if frame[cursor] == quote {
                        if cursor + 1 < count, frame[cursor + 1] == quote {
                            cursor += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    cursor += 1
                }
                guard closed else { return .failure(DecodeError("column \(columnCount): unterminated quote")) }
                start = index + 1
                end = cursor
                index = cursor + 1
                if columnCount < 64 { quotedColumns |= 1 << UInt64(columnCount) }
                guard index == count || frame[index] == delimiter else {
                    return .failure(DecodeError("column \(columnCount): text after closing quote"))
                }
            } else {
                while index < count, frame[index] != delimiter { index += 1 }
                end = index
            }
            columns[columnCount] = start..<end
            columnCount += 1
            if index >= count { break }
            index += 1
        }
        guard columnCount == configuration.columnCount else {
            return .failure(DecodeError("expected \(configuration.columnCount) fields, found \(columnCount)"))
        }
        var values: [Value?] = []
        values.reserveCapacity(configuration.fields.count)
        // By index: iterating the fields would copy each one (and retain everything in it).
        for index in 0..<min(configuration.fields.count, configuration.columns.count) {
            let column = configuration.columns[index]
            let text = UnsafeRawBufferPointer(rebasing: frame[columns[column]])
            let quoted = column < 64 && quotedColumns & (1 << UInt64(column)) != 0
            let result: Result<Value?, DecodeError>
            if quoted, let quote {
                result = TextValue.parse(Self.unquote(text, quote: quote), as: configuration.fields[index])
            } else {
                result = TextValue.parse(bytes: UnsafeRawBufferPointer(rebasing: Self.trimmed(text)), as: configuration.fields[index])
            }
            switch result {
            case .success(let value): values.append(value)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(values)
    }

    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> Slice<UnsafeRawBufferPointer> {
        var text = bytes[...]
        while let first = text.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        while let last = text.last, last == 0x20 || last == 0x09 { text = text.dropLast() }
        return text
    }

    static func unquote(_ bytes: UnsafeRawBufferPointer, quote: UInt8) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            out.append(bytes[index])
            index += bytes[index] == quote ? 2 : 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Parsing of one textual value by its field's type; shared by the text decoders.
public enum TextValue {
    /// Parses UTF-8 `bytes` as `field.type`; numbers are parsed without making a String.
    public static func parse(bytes: UnsafeRawBufferPointer, as field: FieldSpec) -> Result<Value?, DecodeError> {
        switch field.type {
        case .float:
            if let value = DecimalParser.double(bytes) { return .success(.float(value)) }
        case .integer:
            if let value = DecimalParser.integer(bytes) { return .success(.integer(value)) }
        case .string, .boolean:
            break
        }
        return parse(String(decoding: bytes, as: UTF8.self), as: field)
    }

    /// Parses `text` as `field.type`; an empty string is "no value" (nil) for non-string fields.
    public static func parse(_ text: String, as field: FieldSpec) -> Result<Value?, DecodeError> {
        switch field.type {
        case .float:
            if text.isEmpty { return .failure(invalid(text, field)) }
            // Double("nan") and Double("inf") parse; devices never mean them.
            if let value = Double(text), value.isFinite { return .success(.float(value)) }
        case .integer:
            if let value = Int64(text) { return .success(.integer(value)) }
            if text.hasPrefix("0x") || text.hasPrefix("0X"), let value = Int64(text.dropFirst(2), radix: 16) {
                return .success(.integer(value))
            }
        case .string:
            return .success(.string(text))
        case .boolean:
            switch text.lowercased() {
            case "1", "true", "on", "yes": return .success(.boolean(true))
            case "0", "false", "off", "no": return .success(.boolean(false))
            default: break
            }
        }
        return .failure(invalid(text, field))
    }

    static func invalid(_ text: String, _ field: FieldSpec) -> DecodeError {
        let shown = text.count > 32 ? String(text.prefix(32)) + "…" : text
        return DecodeError("field \"\(field.name)\": \"\(shown)\" is not a valid \(field.type.rawValue)")
    }
}

/// Settings of ``DelimitedDecoder``.
public struct DelimitedDecoding: DecoderConfiguration, Hashable {
    public static let type = "delimited"
    /// Column separator byte.
    public var delimiter: UInt8
    /// Quote byte, or nil for no quoting.
    public var quote: UInt8?
    /// The fields, in output order.
    public var fields: [FieldSpec]
    /// The column of each field.
    public var columns: [Int]
    /// How many columns a frame must have.
    public var columnCount: Int

    /// Creates settings where field *i* is column *i*.
    public init(delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\""), fields: [FieldSpec], columnCount: Int? = nil) {
        self.delimiter = delimiter
        self.quote = quote
        self.fields = fields
        self.columns = Array(fields.indices)
        self.columnCount = columnCount ?? fields.count
    }

    public init?(reading section: inout JSONObjectReader) {
        let delimiterText = section.string("delimiter") ?? ","
        let delimiter = Array(delimiterText.utf8)
        if delimiter.count != 1 { section.fail(key: "delimiter", "must be exactly one ASCII character") }
        let quoteText = section.string("quote") ?? "\""
        let quote = Array(quoteText.utf8)
        if quote.count > 1 { section.fail(key: "quote", "must be one ASCII character, or \"\" for no quoting") }
        var fields: [FieldSpec] = []
        var columns: [Int] = []
        var names: Set<String> = []
        let items = section.array("fields", required: true) ?? []
        if items.isEmpty, section.has("fields") { section.fail(key: "fields", "must list at least one field") }
        for item in items {
            var reader = JSONObjectReader(item.value, file: section.file, path: item.path)
            let column = reader.integer("column", in: 0...1023) ?? ((columns.last ?? -1) + 1)
            if let field = FieldSpec.read(&reader) {
                if !names.insert(field.name).inserted {
                    reader.fail(key: "name", "duplicate field name \"\(field.name)\"")
                }
                fields.append(field)
                columns.append(column)
            }
            section.absorb(reader)
        }
        let columnCount = section.integer("columns", in: 1...1024) ?? ((columns.max() ?? -1) + 1)
        if let widest = columns.max(), widest >= columnCount {
            section.fail(key: "columns", "is \(columnCount) but a field reads column \(widest)")
        }
        guard delimiter.count == 1, quote.count <= 1, !fields.isEmpty, section.isClean else { return nil }
        self.delimiter = delimiter[0]
        self.quote = quote.first
        self.fields = fields
        self.columns = columns
        self.columnCount = columnCount
    }

    public func makeDecoder() -> any FrameDecoder { DelimitedDecoder(self) }
}
