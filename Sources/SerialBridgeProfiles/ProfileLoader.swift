import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeSerial

/// Reads and validates device profiles, reporting every mistake as `FILE: JSON-PATH: message`.
public enum ProfileLoader {
    /// Valid profile names: what a config file or a command line can refer to without quoting.
    static let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

    /// Loads one profile file.
    /// - Throws: ``ConfigErrors`` listing every mistake in the file.
    public static func load(file: String) throws(ConfigErrors) -> DeviceProfile {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(file)
        } catch {
            throw ConfigErrors([ConfigError(file: file, path: "$", message: "cannot read file: \(error)")])
        }
        return try load(bytes: bytes, file: file)
    }

    /// Validates profile JSON given as bytes; `file` only names it in errors.
    public static func load(bytes: [UInt8], file: String) throws(ConfigErrors) -> DeviceProfile {
        var profile = try load(document: JSONDocument.parse(bytes, file: file), file: file)
        profile.digest = digest(bytes)
        return profile
    }

    /// FNV-1a of a profile file: tells a changed profile from an unchanged one at reload.
    static func digest(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// Validates a parsed profile document.
    public static func load(document: JSONNode, file: String) throws(ConfigErrors) -> DeviceProfile {
        var root = JSONObjectReader(document, file: file, path: "$")
        _ = root.string("$schema")
        let name = root.string("name", required: true)
        if let name, name.isEmpty || !name.allSatisfy(nameCharacters.contains) {
            root.fail(key: "name", "must be non-empty and use only letters, digits, '-', '_' and '.'")
        }
        let version = root.string("version") ?? "0"
        let description = root.string("description")
        let manufacturer = root.string("manufacturer")
        let model = root.string("model")

        var match: MatchRule?
        if var reader = root.object("match") {
            match = readMatch(&reader)
            root.absorb(reader)
        }
        var serial = SerialSettings()
        var interByteGapMs = 0
        if var reader = root.object("serial") {
            serial = readSerial(&reader)
            interByteGapMs = reader.integer("interByteGapMs", in: 0...10_000) ?? 0
            root.absorb(reader)
        }
        var modbus: ModbusSpec?
        let isModbus = root.has("modbus")
        if var reader = root.object("modbus") {
            modbus = ModbusSpec.read(&reader)
            root.absorb(reader)
        }
        var framing: (any FramerConfiguration)?
        if var reader = root.object("framing", required: !isModbus) {
            framing = readFraming(&reader)
            if isModbus, framing != nil, !(framing is ModbusRTUFraming) {
                reader.fail(key: "type", "a Modbus profile uses \"modbus-rtu\" framing (or leave framing out)")
            }
            root.absorb(reader)
        } else if isModbus {
            framing = ModbusRTUFraming()
        }
        if var rtu = framing as? ModbusRTUFraming, rtu.silenceGapMicroseconds == nil {
            rtu.silenceGapMicroseconds = ModbusRTUFraming.standardGapMicroseconds(baudRate: serial.baudRate)
            framing = rtu
        }
        var integrity: IntegrityCheck?
        if var reader = root.object("integrity") {
            integrity = IntegrityCheck.read(&reader)
            root.absorb(reader)
        }
        var outputNames: [String]?
        var raw = false
        if var reader = root.object("output") {
            raw = reader.bool("raw") ?? false
            if let items = reader.array("values") {
                outputNames = []
                for item in items {
                    if case .string(let text) = item.value { outputNames?.append(text) } else { reader.fail(item.path, "must be a string") }
                }
            }
            root.absorb(reader)
        }
        if isModbus {
            for key in ["integrity", "decoding", "output"] where root.has(key) {
                root.fail(key: key, "a Modbus profile is decoded by modbus.registers (the CRC is checked for you); remove it")
            }
        }
        var decoding: (any DecoderConfiguration)?
        if var reader = root.object("decoding", required: !raw && !isModbus) {
            decoding = readDecoding(&reader)
            root.absorb(reader)
        }
        if let outputNames, let decoding {
            let known = Set(decoding.fields.map(\.name))
            for (index, name) in outputNames.enumerated() where !known.contains(name) {
                root.fail("$.output.values[\(index)]", "no decoded field is named \"\(name)\"")
            }
        }
        if outputNames?.isEmpty == true, !raw { root.fail("$.output.values", "must name at least one value, or set output.raw") }
        var polling: PollingSpec?
        if var reader = root.object("polling") {
            polling = PollingSpec.read(&reader, modbus: isModbus)
            root.absorb(reader)
        } else if isModbus {
            polling = PollingSpec(timeout: .milliseconds(200))
        }
        if isModbus, var polled = polling, polled.turnaround == .zero, let rtu = framing as? ModbusRTUFraming {
            // The line must stay quiet for 3.5 characters between frames.
            polled.turnaround = .microseconds(rtu.silenceGapMicroseconds ?? 0)
            polling = polled
        }
        var commands: [String: CommandSpec] = [:]
        if var reader = root.object("commands") {
            commands = CommandSpec.readAll(&reader, modbus: isModbus)
            root.absorb(reader)
        }
        var simulate: SimulationSpec?
        if var reader = root.object("simulate") {
            simulate = SimulationSpec.read(&reader, modbus: isModbus)
            if let simulate, isModbus, simulate.answers != nil {
                reader.fail("\(reader.path).answers", "a Modbus device answers the requests for its unit ids; remove it")
            }
            if let simulate, isModbus, simulate.output != .modbus {
                reader.fail(reader.path, "a Modbus device is simulated from its register map: give only \"values\" (generators by register name)")
            }
            if let simulate, !isModbus, polling != nil, simulate.answers == nil {
                reader.fail(reader.path, "a polled device answers requests: set \"answers\" to the start of the poll request, e.g. \"FF 01 86\"")
            }
            if let modbus, let simulate {
                let names = Set(modbus.plan.registers.map(\.field.name))
                for name in simulate.values.keys.sorted() where !names.contains(name) {
                    reader.fail("\(reader.path).values.\(name)", "no register is named \"\(name)\"")
                }
            }
            root.absorb(reader)
        }
        let errors = root.finish()
        guard errors.isEmpty, let name, let framing, decoding != nil || raw || modbus != nil else {
            throw ConfigErrors(errors)
        }
        return DeviceProfile(
            name: name, version: version, description: description, manufacturer: manufacturer,
            model: model, match: match, serial: serial, interByteGapMs: interByteGapMs,
            parsing: ParsingSpec(framing: framing, integrity: integrity, decoding: decoding, outputNames: outputNames, raw: raw),
            polling: polling, modbus: modbus, commands: commands, simulate: simulate
        )
    }

    static func readFraming(_ reader: inout JSONObjectReader) -> (any FramerConfiguration)? {
        guard let type = pluginType(&reader, registry: Array(ParserRegistry.framers.keys)) else { return nil }
        return ParserRegistry.framers[type]?.init(reading: &reader)
    }

    static func readDecoding(_ reader: inout JSONObjectReader) -> (any DecoderConfiguration)? {
        guard let type = pluginType(&reader, registry: Array(ParserRegistry.decoders.keys)) else { return nil }
        return ParserRegistry.decoders[type]?.init(reading: &reader)
    }

    /// The section's `type`, checked against the registered names.
    static func pluginType(_ reader: inout JSONObjectReader, registry: [String]) -> String? {
        guard let type = reader.string("type", required: true) else { return nil }
        guard registry.contains(type) else {
            let allowed = registry.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            reader.fail(key: "type", "must be one of \(allowed), not \"\(type)\"")
            return nil
        }
        return type
    }

    /// Reads a `serial` section (baud rate, data bits, parity, stop bits, flow control, DTR, RTS).
    public static func readSerial(_ reader: inout JSONObjectReader) -> SerialSettings {
        var settings = SerialSettings()
        if let baud = reader.integer("baudRate", in: 50...20_000_000) { settings.baudRate = baud }
        if let bits = reader.integer("dataBits", in: 5...8) { settings.dataBits = bits }
        if let parity = reader.choice("parity", SerialSettings.Parity.self) { settings.parity = parity }
        if let stop = reader.integer("stopBits", in: 1...2) { settings.stopBits = stop }
        if let flow = reader.choice("flowControl", SerialSettings.FlowControl.self) { settings.flowControl = flow }
        settings.dtr = reader.bool("dtr")
        settings.rts = reader.bool("rts")
        if settings.flowControl == .rtsCts, settings.rts != nil {
            reader.fail(key: "rts", "cannot be set with flowControl \"rts-cts\", which drives RTS itself")
        }
        return settings
    }

    static func readMatch(_ reader: inout JSONObjectReader) -> MatchRule? {
        var properties: [String: String] = [:]
        if var map = reader.object("properties") {
            for key in map.keys {
                if key.isEmpty || !key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                    map.fail(key: key, "property names use letters, digits and '_'")
                }
                if let pattern = map.string(key) { properties[key] = pattern }
            }
            reader.absorb(map)
        }
        var paths: [String] = []
        for item in reader.array("paths") ?? [] {
            if case .string(let path) = item.value, path.hasPrefix("/") { paths.append(path) } else { reader.fail(item.path, "must be an absolute path or glob") }
        }
        let priority = reader.integer("priority", in: -1000...1000) ?? 0
        if properties.isEmpty, paths.isEmpty, reader.isClean {
            reader.fail(reader.path, "needs \"properties\" or \"paths\"")
        }
        guard reader.isClean else { return nil }
        return MatchRule(properties: properties, paths: paths, priority: priority)
    }
}
