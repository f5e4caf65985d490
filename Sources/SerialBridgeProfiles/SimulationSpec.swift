import SerialBridgeJSON
import SerialBridgeParsing

/// What the simulator writes for a device. A regex or a checksum cannot be run backwards, so the
/// profile says how to build the device's output: a text template, or a binary frame of parts.
public struct SimulationSpec: Sendable, Hashable {
    /// A generated numeric value: a bounded random walk.
    public struct Generator: Sendable, Hashable {
        /// Lowest value.
        public var min: Double
        /// Highest value.
        public var max: Double
        /// Digits after the decimal point (text templates).
        public var decimals: Int

        /// Creates a generator.
        public init(min: Double, max: Double, decimals: Int = 1) {
            self.min = min
            self.max = max
            self.decimals = decimals
        }
    }

    /// Binary encodings of a generated value in a frame.
    public enum BinaryFormat: String, Sendable, Hashable, CaseIterable {
        case u8, i8
        case u16be, u16le, i16be, i16le
        case u32be, u32le, i32be, i32le
        case f32be, f32le

        /// Encoded width in bytes.
        public var width: Int {
            switch self {
            case .u8, .i8: 1
            case .u16be, .u16le, .i16be, .i16le: 2
            default: 4
            }
        }
    }

    /// One part of a binary frame.
    public enum Part: Sendable, Hashable {
        /// Fixed bytes.
        case bytes([UInt8])
        /// A generated value, encoded.
        case value(name: String, format: BinaryFormat)
        /// A checksum over the frame's bytes from index `from` up to this part.
        case checksum(ChecksumAlgorithm, from: Int, endianness: Endianness)
    }

    /// A checksum in a text template, written as two or more uppercase hex digits at `{checksum}`.
    public struct TextChecksum: Sendable, Hashable {
        /// The algorithm (e.g. `xor8` for NMEA 0183).
        public var algorithm: ChecksumAlgorithm
        /// The checksum covers the bytes after the first occurrence of this text…
        public var after: String
        /// …up to the first occurrence of this text after it.
        public var before: String
    }

    /// The output's shape.
    public enum Output: Sendable, Hashable {
        /// Text with `{name}` placeholders.
        case template(String, checksum: TextChecksum?)
        /// A binary frame.
        case frame([Part])
    }

    /// The output's shape.
    public var output: Output
    /// Generators by value name.
    public var values: [String: Generator]

    /// Creates a spec.
    public init(output: Output, values: [String: Generator]) {
        self.output = output
        self.values = values
    }

    /// Reads a `simulate` section.
    static func read(_ section: inout JSONObjectReader) -> SimulationSpec? {
        var generators: [String: Generator] = [:]
        if var values = section.object("values") {
            for key in values.keys {
                guard var generator = values.object(key) else { continue }
                let min = generator.number("min", required: true)
                let max = generator.number("max", required: true)
                let decimals = generator.integer("decimals", in: 0...9) ?? 1
                if let min, let max {
                    if min > max {
                        generator.fail(key: "min", "must not be greater than max (\(max))")
                    } else {
                        generators[key] = Generator(min: min, max: max, decimals: decimals)
                    }
                }
                values.absorb(generator)
            }
            section.absorb(values)
        }
        let template = section.string("template")
        let frame = section.array("frame")
        var output: Output?
        switch (template, frame) {
        case (let template?, nil):
            var checksum: TextChecksum?
            if var reader = section.object("checksum") {
                let algorithm = reader.choice("algorithm", ChecksumAlgorithm.self, required: true)
                let after = reader.string("after", required: true)
                let before = reader.string("before", required: true)
                if let algorithm, let after, let before { checksum = TextChecksum(algorithm: algorithm, after: after, before: before) }
                section.absorb(reader)
            }
            for name in SimulationTemplate.placeholders(in: template) {
                if name == "checksum" {
                    if checksum == nil { section.fail(key: "template", "{checksum} needs a simulate.checksum section") }
                } else if generators[name] == nil {
                    section.fail(key: "template", "placeholder {\(name)} has no generator in simulate.values")
                }
            }
            output = .template(template, checksum: checksum)
        case (nil, let items?):
            var parts: [Part] = []
            for item in items {
                var part = JSONObjectReader(item.value, file: section.file, path: item.path)
                if let hex = part.string("hex") {
                    if let bytes = Hex.decode(hex) { parts.append(.bytes(bytes)) } else { part.fail(key: "hex", "must be pairs of hex digits, e.g. \"AA C0\"") }
                } else if let name = part.string("value") {
                    let format = part.choice("format", BinaryFormat.self, required: true)
                    if generators[name] == nil { part.fail(key: "value", "\"\(name)\" has no generator in simulate.values") }
                    if let format { parts.append(.value(name: name, format: format)) }
                } else if let algorithm = part.choice("checksum", ChecksumAlgorithm.self) {
                    let from = part.integer("from", in: 0...65535) ?? 0
                    let endianness = part.choice("endianness", Endianness.self) ?? algorithm.conventionalEndianness
                    parts.append(.checksum(algorithm, from: from, endianness: endianness))
                } else if part.isClean {
                    part.fail(item.path, "must have one of \"hex\", \"value\" or \"checksum\"")
                }
                section.absorb(part)
            }
            if parts.isEmpty, section.isClean { section.fail(key: "frame", "must list at least one part") }
            output = .frame(parts)
        case (.some, .some):
            section.fail(section.path, "has both \"template\" and \"frame\"; use one")
        case (nil, nil):
            section.fail(section.path, "needs a \"template\" (text devices) or a \"frame\" (binary devices)")
        }
        guard let output, section.isClean else { return nil }
        return SimulationSpec(output: output, values: generators)
    }
}

/// Simulation templates: `{name}` is a placeholder, `{{` and `}}` are literal braces (so JSON
/// devices can be templated), everything else is literal.
public enum SimulationTemplate {
    /// A piece of a template.
    public enum Token: Sendable, Hashable {
        case literal(String)
        case placeholder(String)
    }

    /// The template's pieces, in order.
    public static func tokens(_ template: String) -> [Token] {
        var tokens: [Token] = []
        var literal = ""
        var placeholder: String?
        var characters = Array(template)[...]
        while let character = characters.popFirst() {
            if var name = placeholder {
                if character == "}" {
                    tokens.append(.placeholder(name))
                    placeholder = nil
                } else {
                    name.append(character)
                    placeholder = name
                }
            } else if character == "{", characters.first == "{" {
                characters.removeFirst()
                literal.append("{")
            } else if character == "}", characters.first == "}" {
                characters.removeFirst()
                literal.append("}")
            } else if character == "{" {
                if !literal.isEmpty { tokens.append(.literal(literal)) }
                literal = ""
                placeholder = ""
            } else {
                literal.append(character)
            }
        }
        if let placeholder { literal.append("{" + placeholder) }
        if !literal.isEmpty { tokens.append(.literal(literal)) }
        return tokens
    }

    /// The placeholder names in `template`, in order.
    public static func placeholders(in template: String) -> [String] {
        tokens(template).compactMap { token in
            if case .placeholder(let name) = token { return name }
            return nil
        }
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
}
