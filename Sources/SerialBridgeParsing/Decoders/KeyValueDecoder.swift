import SerialBridgeJSON

/// `decoding.type = "key-value"`: frames of `key=value` pairs, e.g. `T=21.5,H=40,OK=1`.
///
/// The frame is cut into pairs at `pairSeparator` (a single space means any run of spaces and
/// tabs), and each pair at the first `separator` into a key and a value; spaces and tabs around
/// both are removed. Each field takes the value of its `key` (default: the field's name, compared
/// byte for byte, case-sensitive), parsed by the field's type with ``TextValue/parse(_:as:)``.
///
/// A key the frame does not carry, or an empty value, gives nil. Empty pairs and pairs without a
/// separator are ignored (devices often add a label or a trailing separator); keys no field asks
/// for are ignored; when a key repeats, its first value is used. Values are taken literally:
/// quotes are not interpreted.
public struct KeyValueDecoder: FrameDecoder {
    /// Settings.
    public let configuration: KeyValueDecoding
    private let pairSeparator: [UInt8]
    private let separator: [UInt8]
    private let keys: [[UInt8]]

    /// Creates a decoder.
    public init(_ configuration: KeyValueDecoding) {
        self.configuration = configuration
        pairSeparator = Array(configuration.pairSeparator.utf8)
        separator = Array(configuration.separator.utf8)
        keys = configuration.keys.map { Array($0.utf8) }
    }

    /// Decodes one frame into one value (or nil) per configured field; never traps on any input.
    public func decode(_ frame: UnsafeRawBufferPointer) -> Result<[Value?], DecodeError> {
        var found = [Range<Int>?](repeating: nil, count: keys.count)
        var remaining = keys.count
        for pair in pairs(frame) where remaining > 0 {
            guard let split = Self.find(separator, in: frame, within: pair) else { continue }
            let key = Self.trimmed(frame, pair.lowerBound..<split)
            for (index, wanted) in keys.enumerated() where found[index] == nil {
                if key.count == wanted.count, frame[key].elementsEqual(wanted) {
                    found[index] = Self.trimmed(frame, (split + separator.count)..<pair.upperBound)
                    remaining -= 1
                }
            }
        }
        var values: [Value?] = []
        values.reserveCapacity(keys.count)
        for (index, field) in configuration.fields.enumerated() {
            guard index < found.count, let range = found[index], !range.isEmpty else {
                values.append(nil)
                continue
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: frame[range]), as: UTF8.self)
            switch TextValue.parse(text, as: field) {
            case .success(let value): values.append(value)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(values)
    }

    /// The byte ranges of the pairs, empty ones left out.
    private func pairs(_ frame: UnsafeRawBufferPointer) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        if pairSeparator == [0x20] {
            var index = 0
            while index <= frame.count {
                if index == frame.count || Self.isBlank(frame[index]) {
                    if index > start { result.append(start..<index) }
                    start = index + 1
                }
                index += 1
            }
            return result
        }
        while start <= frame.count {
            let end = Self.find(pairSeparator, in: frame, within: start..<frame.count) ?? frame.count
            if end > start { result.append(start..<end) }
            start = end + pairSeparator.count
        }
        return result
    }

    /// The first offset of `needle` inside `range` of `frame`.
    static func find(_ needle: [UInt8], in frame: UnsafeRawBufferPointer, within range: Range<Int>) -> Int? {
        guard let first = needle.first, range.count >= needle.count else { return nil }
        var index = range.lowerBound
        let last = range.upperBound - needle.count
        while index <= last {
            if frame[index] == first, frame[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    static func trimmed(_ frame: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isBlank(frame[lower]) { lower += 1 }
        while upper > lower, isBlank(frame[upper - 1]) { upper -= 1 }
        return lower..<upper
    }
}

/// Settings of ``KeyValueDecoder``.
public struct KeyValueDecoding: DecoderConfiguration, Hashable {
    /// The `decoding.type` of this decoder: `key-value`.
    public static let type = "key-value"

    /// Between pairs; `" "` means any run of spaces and tabs.
    public var pairSeparator: String
    /// Between a key and its value.
    public var separator: String
    /// The fields, in output order.
    public var fields: [FieldSpec]
    /// The key of each field.
    public var keys: [String]

    /// Creates settings where each field's key is its name unless `keys` (one per field) says
    /// otherwise; a field without a key gets no value. The separators must be non-empty and
    /// different (not checked here; ``init(reading:)`` checks).
    public init(pairSeparator: String = ",", separator: String = "=", fields: [FieldSpec], keys: [String]? = nil) {
        self.pairSeparator = pairSeparator
        self.separator = separator
        self.fields = fields
        self.keys = keys ?? fields.map(\.name)
    }

    /// Reads `pairSeparator`, `separator` and `fields` (each with an optional `key`).
    public init?(reading section: inout JSONObjectReader) {
        let pairSeparator = section.string("pairSeparator") ?? ","
        let separator = section.string("separator") ?? "="
        if pairSeparator.isEmpty { section.fail(key: "pairSeparator", "must not be empty") }
        if separator.isEmpty { section.fail(key: "separator", "must not be empty") }
        if !separator.isEmpty, separator.allSatisfy({ $0 == " " || $0 == "\t" }) {
            section.fail(key: "separator", "must contain a character other than spaces and tabs, which are trimmed")
        }
        if !pairSeparator.isEmpty, !separator.isEmpty,
            pairSeparator.utf8.elementsEqual(separator.utf8)
        {
            section.fail(key: "separator", "must differ from pairSeparator")
        }
        if pairSeparator == " ", separator.contains(where: { $0 == " " || $0 == "\t" }) {
            section.fail(key: "separator", "must not contain spaces or tabs when pairSeparator is \" \"")
        }
        var fields: [FieldSpec] = []
        var keys: [String] = []
        var names: Set<String> = []
        let items = section.array("fields", required: true) ?? []
        if items.isEmpty, section.has("fields") { section.fail(key: "fields", "must list at least one field") }
        for item in items {
            var reader = JSONObjectReader(item.value, file: section.file, path: item.path)
            let key = reader.string("key")
            if let key, key.isEmpty || key.contains(where: { $0 == "\t" }) || key.first == " " || key.last == " " {
                reader.fail(key: "key", "must be non-empty, without tabs or leading and trailing spaces")
            }
            if let field = FieldSpec.read(&reader) {
                if !names.insert(field.name).inserted {
                    reader.fail(key: "name", "duplicate field name \"\(field.name)\"")
                }
                let fieldKey = key ?? field.name
                if !separator.isEmpty, fieldKey.contains(separator) {
                    reader.fail(key: key == nil ? "name" : "key", "key \"\(fieldKey)\" contains the separator \"\(separator)\"")
                }
                if pairSeparator == " " ? fieldKey.contains(" ") : (!pairSeparator.isEmpty && fieldKey.contains(pairSeparator)) {
                    reader.fail(key: key == nil ? "name" : "key", "key \"\(fieldKey)\" contains the pair separator \"\(pairSeparator)\"")
                }
                fields.append(field)
                keys.append(fieldKey)
            }
            section.absorb(reader)
        }
        guard !fields.isEmpty, section.isClean else { return nil }
        self.pairSeparator = pairSeparator
        self.separator = separator
        self.fields = fields
        self.keys = keys
    }

    /// A decoder with these settings.
    public func makeDecoder() -> any FrameDecoder { KeyValueDecoder(self) }
}
