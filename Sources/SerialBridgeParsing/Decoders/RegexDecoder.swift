import SerialBridgeJSON

/// `decoding.type = "regex"`: values are the named capture groups of a regular expression.
///
/// The frame is read as UTF-8 text (invalid bytes become U+FFFD) and searched with
/// `firstMatch`: the first place in the frame where the pattern matches is used, so a pattern
/// need not cover the whole frame. Anchor it with `^…$` to require that it does.
///
/// Each field takes the capture group named by its `group` key (default: the field's name). A
/// group that did not take part in the match, or matched the empty string, gives nil for that
/// field. The text of a group is parsed by the field's type with ``TextValue/parse(_:as:)``.
///
/// Cost: one String built from the frame and one regex search per frame. Swift Regex backtracks,
/// so a pattern with nested quantifiers can be slow on long frames; frames are bounded by the
/// framer's `maxLength`.
public struct RegexDecoder: FrameDecoder {
    /// Settings.
    public let configuration: RegexDecoding

    /// Creates a decoder.
    public init(_ configuration: RegexDecoding) { self.configuration = configuration }

    /// Decodes one frame into one value (or nil) per configured field; never traps on any input.
    public func decode(_ frame: UnsafeRawBufferPointer) -> Result<[Value?], DecodeError> {
        let text = String(decoding: frame, as: UTF8.self)
        let match: Regex<AnyRegexOutput>.Match?
        do {
            match = try configuration.compiled.regex.firstMatch(in: text)
        } catch {
            // Only custom regex components throw while matching; a parsed pattern has none.
            return .failure(DecodeError("pattern failed while matching: \(error)"))
        }
        guard let match else { return .failure(DecodeError("no match for pattern")) }
        var values: [Value?] = []
        values.reserveCapacity(configuration.fields.count)
        for (field, group) in zip(configuration.fields, configuration.groups) {
            guard let captured = match.output[group]?.substring, !captured.isEmpty else {
                values.append(nil)
                continue
            }
            switch TextValue.parse(String(captured), as: field) {
            case .success(let value): values.append(value)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(values)
    }
}

/// Settings of ``RegexDecoder``.
///
/// Two settings are equal when their pattern, fields and groups are.
public struct RegexDecoding: DecoderConfiguration, Hashable {
    /// The `decoding.type` of this decoder: `regex`.
    public static let type = "regex"

    /// The regular expression, in Swift Regex syntax (PCRE-like; named groups `(?<name>…)`).
    public let pattern: String
    /// The fields, in output order.
    public let fields: [FieldSpec]
    /// The capture group name of each field.
    public let groups: [String]
    /// The compiled pattern.
    let compiled: CompiledRegex

    /// Creates settings, compiling `pattern`.
    /// - Parameter groups: the group of each field; nil uses the field names.
    /// - Throws: ``RegexDecodingError`` when the pattern does not compile or lacks a group.
    public init(pattern: String, fields: [FieldSpec], groups: [String]? = nil) throws(RegexDecodingError) {
        let regex: Regex<AnyRegexOutput>
        do {
            regex = try Regex(pattern)
        } catch {
            throw RegexDecodingError(message: "invalid pattern: \(error)")
        }
        let groups = groups ?? fields.map(\.name)
        guard groups.count == fields.count else {
            throw RegexDecodingError(message: "\(fields.count) fields but \(groups.count) groups")
        }
        for group in groups where !regex.contains(captureNamed: group) {
            throw RegexDecodingError(message: "the pattern has no capture group named \"\(group)\"")
        }
        self.pattern = pattern
        self.fields = fields
        self.groups = groups
        self.compiled = CompiledRegex(regex)
    }

    /// Reads `pattern` and `fields` (each with an optional `group`) from the decoding section.
    public init?(reading section: inout JSONObjectReader) {
        let pattern = section.string("pattern", required: true)
        var regex: Regex<AnyRegexOutput>?
        if let pattern {
            do {
                regex = try Regex(pattern)
            } catch {
                section.fail(key: "pattern", "invalid pattern: \(error)")
            }
        }
        var fields: [FieldSpec] = []
        var groups: [String] = []
        var names: Set<String> = []
        let items = section.array("fields", required: true) ?? []
        if items.isEmpty, section.has("fields") { section.fail(key: "fields", "must list at least one field") }
        for item in items {
            var reader = JSONObjectReader(item.value, file: section.file, path: item.path)
            let group = reader.string("group")
            if let group, group.isEmpty { reader.fail(key: "group", "must not be empty") }
            if let field = FieldSpec.read(&reader) {
                if !names.insert(field.name).inserted {
                    reader.fail(key: "name", "duplicate field name \"\(field.name)\"")
                }
                let groupName = group ?? field.name
                if let regex, !groupName.isEmpty, !regex.contains(captureNamed: groupName) {
                    let hint = group == nil ? "; name a group (?<\(groupName)>…) or set \"group\"" : ""
                    reader.fail(key: group == nil ? "name" : "group", "the pattern has no capture group named \"\(groupName)\"\(hint)")
                }
                fields.append(field)
                groups.append(groupName)
            }
            section.absorb(reader)
        }
        guard let pattern, let regex, !fields.isEmpty, section.isClean else { return nil }
        self.pattern = pattern
        self.fields = fields
        self.groups = groups
        self.compiled = CompiledRegex(regex)
    }

    /// A decoder with these settings.
    public func makeDecoder() -> any FrameDecoder { RegexDecoder(self) }

    /// True when pattern, fields and groups are equal (the compiled regex follows from the pattern).
    public static func == (lhs: RegexDecoding, rhs: RegexDecoding) -> Bool {
        lhs.pattern == rhs.pattern && lhs.fields == rhs.fields && lhs.groups == rhs.groups
    }

    /// Hashes pattern, fields and groups.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(pattern)
        hasher.combine(fields)
        hasher.combine(groups)
    }
}

/// Why ``RegexDecoding/init(pattern:fields:groups:)`` refused its arguments.
public struct RegexDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, e.g. `the pattern has no capture group named "t"`.
    public var message: String

    /// Creates an error.
    public init(message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// A compiled pattern shared by copies of a configuration and by decoders on any task.
///
/// `Regex` is not declared `Sendable` (its `Output` type parameter may not be), but matching is
/// safe from several threads: the lazily lowered program is published with an atomic
/// compare-and-exchange and read with an atomic load (swift-experimental-string-processing #474,
/// #610). The box is immutable after init.
final class CompiledRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>

    init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
}
