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
    public typealias BinaryFormat = FrameTemplate.Format

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
        case frame(FrameTemplate)
        /// Modbus RTU answers built from the profile's register map (Modbus profiles only).
        case modbus
    }

    /// The output's shape.
    public var output: Output
    /// Generators by value name.
    public var values: [String: Generator]
    /// For polled devices: the output is written only in answer to a request starting with these
    /// bytes (nil: the device talks on its own).
    public var answers: [UInt8]?

    /// Creates a spec.
    public init(output: Output, values: [String: Generator], answers: [UInt8]? = nil) {
        self.output = output
        self.values = values
        self.answers = answers
    }

    /// Reads a `simulate` section.
    static func read(_ section: inout JSONObjectReader, modbus: Bool) -> SimulationSpec? {
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
        let frame = section.has("frame") ? section.value("frame") : nil
        var answers: [UInt8]?
        if let hex = section.string("answers") {
            answers = Hex.decode(hex)
            if answers?.isEmpty ?? true { section.fail(key: "answers", "must be pairs of hex digits, e.g. \"FF 01 86\"") }
        }
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
        case (nil, .some):
            if let template = FrameTemplate.read("frame", valueKey: "value", from: &section) {
                for name in template.valueNames where generators[name] == nil {
                    section.fail(key: "frame", "value \"\(name)\" has no generator in simulate.values")
                }
                output = .frame(template)
            }
        case (.some, .some):
            section.fail(section.path, "has both \"template\" and \"frame\"; use one")
        case (nil, nil):
            if modbus {
                output = .modbus
            } else {
                section.fail(section.path, "needs a \"template\" (text devices) or a \"frame\" (binary devices)")
            }
        }
        guard let output, section.isClean else { return nil }
        return SimulationSpec(output: output, values: generators, answers: answers)
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
