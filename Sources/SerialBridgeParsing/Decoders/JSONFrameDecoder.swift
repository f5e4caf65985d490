import SerialBridgeJSON

/// `decoding.type = "json"`: one JSON object per frame, e.g. `{"env":{"temp":21.5},"ok":true}`.
///
/// The frame is parsed with the strict, depth-bounded ``JSONParser`` (untrusted input). Each field
/// takes the value at its `path` (default: the field's name, read as a path): keys separated by
/// dots, each optionally followed by array indexes, e.g. `env.temp` or `readings[2].v`.
///
/// A path the frame does not have, or a JSON `null`, gives nil. The value must suit the field's
/// type, or the frame is a decode error:
/// - `float`: any number;
/// - `integer`: a number without a fractional part that fits in 64 bits (`40` or `40.0`);
/// - `string`: a string;
/// - `boolean`: `true`/`false`, or the numbers `1`/`0`.
///
/// Cost: the whole frame is parsed into a ``JSONNode`` tree; lookups walk it.
public struct JSONFrameDecoder: FrameDecoder {
    /// Settings.
    public let configuration: JSONDecoding

    /// Creates a decoder.
    public init(_ configuration: JSONDecoding) { self.configuration = configuration }

    /// Decodes one frame into one value (or nil) per configured field; never traps on any input.
    public func decode(_ frame: UnsafeRawBufferPointer) -> Result<[Value?], DecodeError> {
        let root: JSONNode
        do {
            root = try JSONParser.parse(frame)
        } catch {
            return .failure(DecodeError("invalid JSON: \(error.reason) at byte \(error.offset)"))
        }
        guard case .object = root else {
            return .failure(DecodeError("frame must be a JSON object, not \(root.typeName)"))
        }
        var values: [Value?] = []
        values.reserveCapacity(configuration.fields.count)
        for (field, path) in zip(configuration.fields, configuration.paths) {
            guard let node = path.lookup(in: root) else {
                values.append(nil)
                continue
            }
            switch Self.convert(node, to: field, path: path) {
            case .success(let value): values.append(value)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(values)
    }

    /// `node` as a value of `field`'s type; nil for JSON null.
    static func convert(_ node: JSONNode, to field: FieldSpec, path: JSONFieldPath) -> Result<Value?, DecodeError> {
        switch (field.type, node) {
        case (_, .null):
            return .success(nil)
        case (.float, .integer(let number)):
            return .success(.float(Double(number)))
        case (.float, .float(let number)):
            return .success(.float(number))
        case (.integer, .integer(let number)):
            return .success(.integer(number))
        case (.integer, .float(let number)):
            // JSON has one number type; 40.0 and 4e1 are integers too. Int64(exactly:) refuses
            // fractions and anything out of range.
            if let integer = Int64(exactly: number) { return .success(.integer(integer)) }
            return .failure(DecodeError("field \"\(field.name)\": \(number) at \(path) is not an integer"))
        case (.string, .string(let text)):
            return .success(.string(text))
        case (.boolean, .bool(let flag)):
            return .success(.boolean(flag))
        case (.boolean, .integer(let number)) where number == 0 || number == 1:
            return .success(.boolean(number == 1))
        default:
            return .failure(DecodeError("field \"\(field.name)\": expected \(Self.expected(field.type)) at \(path), found \(node.typeName)"))
        }
    }

    static func expected(_ type: FieldSpec.ValueType) -> String {
        switch type {
        case .float: "a number"
        case .integer: "an integer"
        case .string: "a string"
        case .boolean: "a boolean"
        }
    }
}

/// Where a value sits in a JSON object: keys and array indexes, e.g. `readings[2].v`.
public struct JSONFieldPath: Sendable, Hashable, CustomStringConvertible {
    /// One step of a path.
    public enum Step: Sendable, Hashable {
        /// A key of an object.
        case key(String)
        /// A 0-based index of an array.
        case index(Int)
    }

    /// The steps, from the frame's top-level object inward; never empty, and the first is a key.
    public let steps: [Step]

    /// Parses a path: dot-separated non-empty keys, each optionally followed by `[n]` indexes
    /// (`n` a decimal integer ≥ 0). Keys cannot contain `.`, `[` or `]`.
    /// - Returns: the path, or why the text is not one.
    public static func parse(_ text: String) -> Result<JSONFieldPath, JSONFieldPathError> {
        var steps: [Step] = []
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            let bracket = part.firstIndex(of: "[") ?? part.endIndex
            let key = part[..<bracket]
            guard !key.isEmpty else { return .failure(JSONFieldPathError("empty key in path \"\(text)\"")) }
            guard !key.contains("]") else { return .failure(JSONFieldPathError("unexpected ']' in path \"\(text)\"")) }
            steps.append(.key(String(key)))
            var rest = part[bracket...]
            while !rest.isEmpty {
                guard rest.first == "[", let close = rest.firstIndex(of: "]") else {
                    return .failure(JSONFieldPathError("expected '[index]' in path \"\(text)\""))
                }
                let digits = rest[rest.index(after: rest.startIndex)..<close]
                guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let index = Int(digits), index <= 1_000_000 else {
                    return .failure(JSONFieldPathError("index \"\(digits)\" in path \"\(text)\" is not an integer from 0 to 1000000"))
                }
                steps.append(.index(index))
                rest = rest[rest.index(after: close)...]
            }
        }
        return .success(JSONFieldPath(steps: steps))
    }

    private init(steps: [Step]) { self.steps = steps }

    /// The value at this path in `root`, or nil when some step is missing.
    public func lookup(in root: JSONNode) -> JSONNode? {
        var node = root
        for step in steps {
            switch step {
            case .key(let key):
                guard let child = node[key] else { return nil }
                node = child
            case .index(let index):
                guard case .array(let items) = node, index < items.count else { return nil }
                node = items[index]
            }
        }
        return node
    }

    /// The path as written, e.g. `readings[2].v`.
    public var description: String {
        var text = ""
        for step in steps {
            switch step {
            case .key(let key): text += text.isEmpty ? key : "." + key
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}

/// Why a `path` is not a valid ``JSONFieldPath``.
public struct JSONFieldPathError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// Settings of ``JSONFrameDecoder``.
public struct JSONDecoding: DecoderConfiguration, Hashable {
    /// The `decoding.type` of this decoder: `json`.
    public static let type = "json"

    /// The fields, in output order.
    public var fields: [FieldSpec]
    /// The path of each field.
    public var paths: [JSONFieldPath]

    /// Creates settings.
    /// - Parameter paths: the path of each field, same count as `fields`; nil uses the field names
    ///   as top-level keys.
    /// - Throws: ``JSONFieldPathError`` for a path that does not parse.
    public init(fields: [FieldSpec], paths: [String]? = nil) throws(JSONFieldPathError) {
        let texts = paths ?? fields.map(\.name)
        guard texts.count == fields.count else { throw JSONFieldPathError("\(fields.count) fields but \(texts.count) paths") }
        var parsed: [JSONFieldPath] = []
        for text in texts {
            switch JSONFieldPath.parse(text) {
            case .success(let path): parsed.append(path)
            case .failure(let error): throw error
            }
        }
        self.fields = fields
        self.paths = parsed
    }

    /// Reads `fields`, each with an optional `path`.
    public init?(reading section: inout JSONObjectReader) {
        var fields: [FieldSpec] = []
        var paths: [JSONFieldPath] = []
        var names: Set<String> = []
        let items = section.array("fields", required: true) ?? []
        if items.isEmpty, section.has("fields") { section.fail(key: "fields", "must list at least one field") }
        for item in items {
            var reader = JSONObjectReader(item.value, file: section.file, path: item.path)
            let pathText = reader.string("path")
            if let field = FieldSpec.read(&reader) {
                if !names.insert(field.name).inserted {
                    reader.fail(key: "name", "duplicate field name \"\(field.name)\"")
                }
                switch JSONFieldPath.parse(pathText ?? field.name) {
                case .success(let path):
                    fields.append(field)
                    paths.append(path)
                case .failure(let error):
                    let hint = pathText == nil ? "; set \"path\" to the key, e.g. \"a.b\"" : ""
                    reader.fail(key: pathText == nil ? "name" : "path", "\(error.message)\(hint)")
                }
            }
            section.absorb(reader)
        }
        guard !fields.isEmpty, section.isClean else { return nil }
        self.fields = fields
        self.paths = paths
    }

    /// A decoder with these settings.
    public func makeDecoder() -> any FrameDecoder { JSONFrameDecoder(self) }
}
