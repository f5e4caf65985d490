import SerialBridgeSerial

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads and validates device profiles, reporting every mistake as `FILE: JSON-PATH: message`.
public enum ProfileLoader {
    /// Valid profile names: what a config file or a command line can refer to without quoting.
    static let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

    /// Loads one profile file.
    /// - Throws: ``ProfileErrors`` listing every mistake in the file.
    public static func load(file: String) throws(ProfileErrors) -> DeviceProfile {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(file)
        } catch {
            throw ProfileErrors([ProfileError(file: file, path: "$", message: "cannot read file: \(error)")])
        }
        return try load(data: Data(bytes), file: file)
    }

    /// Validates profile JSON given as bytes; `file` only names it in errors.
    public static func load(data: Data, file: String) throws(ProfileErrors) -> DeviceProfile {
        let document: JSONValue
        do {
            document = try JSONValue.parse(data)
        } catch {
            throw ProfileErrors([ProfileError(file: file, path: "$", message: "not valid JSON: \(describe(error))")])
        }
        var root = JSONObjectReader(document, file: file, path: "$")
        _ = root.string("$schema")
        let name = root.string("name", required: true)
        if let name, name.isEmpty || !name.allSatisfy(nameCharacters.contains) {
            root.fail(root.path(of: "name"), "must be non-empty and use only letters, digits, '-', '_' and '.'")
        }
        let version = root.string("version") ?? "0"
        let description = root.string("description")
        let manufacturer = root.string("manufacturer")
        let model = root.string("model")

        var serial = SerialSettings()
        if var reader = root.object("serial") {
            serial = readSerial(&reader)
            root.absorb(reader)
        }
        var framing: FramingSpec?
        if var reader = root.object("framing", required: true) {
            framing = readFraming(&reader)
            root.absorb(reader)
        }
        var decoding: DecodingSpec?
        if var reader = root.object("decoding", required: true) {
            decoding = readDecoding(&reader)
            root.absorb(reader)
        }
        var simulate: SimulationSpec?
        if var reader = root.object("simulate") {
            simulate = readSimulation(&reader, fields: decoding?.fields ?? [])
            root.absorb(reader)
        }
        let errors = root.finish()
        guard errors.isEmpty, let name, let framing, let decoding else {
            throw ProfileErrors(errors)
        }
        return DeviceProfile(
            name: name, version: version, description: description, manufacturer: manufacturer,
            model: model, serial: serial, framing: framing, decoding: decoding, simulate: simulate
        )
    }

    static func readSerial(_ reader: inout JSONObjectReader) -> SerialSettings {
        var settings = SerialSettings()
        if let baud = reader.integer("baudRate", in: 50...20_000_000) { settings.baudRate = baud }
        if let bits = reader.integer("dataBits", in: 5...8) { settings.dataBits = bits }
        if let parity = reader.choice("parity", SerialSettings.Parity.self) { settings.parity = parity }
        if let stop = reader.integer("stopBits", in: 1...2) { settings.stopBits = stop }
        if let flow = reader.choice("flowControl", SerialSettings.FlowControl.self) { settings.flowControl = flow }
        return settings
    }

    enum FramingType: String, CaseIterable { case line }

    static func readFraming(_ reader: inout JSONObjectReader) -> FramingSpec? {
        guard let type = reader.choice("type", FramingType.self, required: true) else { return nil }
        switch type {
        case .line:
            let terminator = Array((reader.string("terminator") ?? "\n").utf8)
            if terminator.isEmpty { reader.fail(reader.path(of: "terminator"), "must not be empty") }
            let maxLength = reader.integer("maxLength", in: 1...1_048_576) ?? 1024
            return terminator.isEmpty ? nil : .line(terminator: terminator, maxLength: maxLength)
        }
    }

    enum DecodingType: String, CaseIterable { case delimited }

    static func readDecoding(_ reader: inout JSONObjectReader) -> DecodingSpec? {
        guard let type = reader.choice("type", DecodingType.self, required: true) else { return nil }
        switch type {
        case .delimited:
            let delimiterText = reader.string("delimiter") ?? ","
            let delimiter = Array(delimiterText.utf8)
            if delimiter.count != 1 {
                reader.fail(reader.path(of: "delimiter"), "must be exactly one ASCII character")
            }
            var fields: [FieldSpec] = []
            var seen: Set<String> = []
            let items = reader.array("fields", required: true) ?? []
            if items.isEmpty { reader.fail(reader.path(of: "fields"), "must list at least one field") }
            for item in items {
                var field = JSONObjectReader(item.value, file: reader.file, path: item.path)
                let name = field.string("name", required: true)
                let type = field.choice("type", FieldSpec.ValueType.self) ?? .float
                let unit = field.string("unit")
                let skip = field.value("skip").map { $0 == .bool(true) } ?? false
                if let name {
                    if name.isEmpty {
                        field.fail(field.path(of: "name"), "must not be empty")
                    } else if !seen.insert(name).inserted {
                        field.fail(field.path(of: "name"), "duplicate field name \"\(name)\"")
                    }
                    fields.append(FieldSpec(name: name, type: type, unit: unit, skip: skip))
                }
                reader.absorb(field)
            }
            guard let byte = delimiter.first, delimiter.count == 1 else { return nil }
            return .delimited(delimiter: byte, fields: fields)
        }
    }

    static func readSimulation(_ reader: inout JSONObjectReader, fields: [FieldSpec]) -> SimulationSpec? {
        let template = reader.string("template", required: true)
        var generators: [String: SimulationSpec.Generator] = [:]
        if var values = reader.object("values") {
            for key in values.keys {
                guard var generator = values.object(key) else { continue }
                let min = generator.number("min", required: true)
                let max = generator.number("max", required: true)
                let decimals = generator.integer("decimals", in: 0...9) ?? 1
                if let min, let max {
                    if min > max {
                        generator.fail(generator.path(of: "min"), "must not be greater than max (\(max))")
                    } else {
                        generators[key] = .init(min: min, max: max, decimals: decimals)
                    }
                }
                values.absorb(generator)
            }
            reader.absorb(values)
        }
        guard let template else { return nil }
        for placeholder in SimulationTemplate.placeholders(in: template) where generators[placeholder] == nil {
            reader.fail(reader.path(of: "template"), "placeholder {\(placeholder)} has no generator in simulate.values")
        }
        return SimulationSpec(template: template, values: generators)
    }

    static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
        }
        return "\(error)"
    }
}

/// Placeholder handling for simulation templates: `{name}` is replaced, everything else is literal.
public enum SimulationTemplate {
    /// The placeholder names in `template`, in order.
    public static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var current: String?
        for character in template {
            if character == "{" {
                current = ""
            } else if character == "}", let name = current {
                names.append(name)
                current = nil
            } else if current != nil {
                current?.append(character)
            }
        }
        return names
    }
}
