import SerialBridgeJSON
import SerialBridgeParsing

/// A named request the gateway can be asked to send to a device: the profile's `commands` section.
///
/// A command is fixed bytes or a template with typed arguments (or, on Modbus devices, a register
/// write whose CRC and unit id are filled in), and says how its answer is recognised.
public struct CommandSpec: Sendable, Hashable {
    /// A typed argument.
    public struct Argument: Sendable, Hashable {
        /// Argument kinds.
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            case integer, number
        }

        /// Name, as templates refer to it.
        public var name: String
        /// Kind.
        public var kind: Kind
        /// Allowed values.
        public var range: ClosedRange<Double>?
    }

    /// What is sent.
    public enum Request: Sendable, Hashable {
        /// A byte template.
        case bytes(FrameTemplate)
        /// A Modbus write of one value (function 6 or 16) to a holding register; the value is
        /// fixed or an argument.
        case modbusWrite(function: ModbusRTU.Function, register: ModbusRegister, value: Double?, argument: String?)
    }

    /// How the answer is recognised.
    public enum Response: Sendable, Hashable {
        /// No answer is expected; the command completes once written.
        case none
        /// The next accepted frame, optionally starting with these bytes.
        case frame(prefix: [UInt8]?)
        /// The Modbus echo (or exception) for the request's unit and function.
        case modbus
    }

    /// Command name.
    public var name: String
    /// Arguments, in the order the profile lists them.
    public var arguments: [Argument]
    /// The request.
    public var request: Request
    /// The answer.
    public var response: Response
    /// How long to wait for the answer.
    public var timeout: Duration
    /// Extra attempts after a timeout.
    public var retries: Int

    /// Why a command's arguments were refused.
    public struct ArgumentError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong.
        public var message: String
        public var description: String { message }
    }

    /// Checks `values` against the arguments: every argument given, no unknown name, kinds and ranges kept.
    public func validate(_ values: [String: Double]) throws(ArgumentError) {
        for name in values.keys where !arguments.contains(where: { $0.name == name }) {
            let known = arguments.map(\.name).joined(separator: ", ")
            throw ArgumentError(message: "command \"\(self.name)\" has no argument \"\(name)\"\(known.isEmpty ? "" : " (it takes \(known))")")
        }
        for argument in arguments {
            guard let value = values[argument.name] else {
                throw ArgumentError(message: "command \"\(name)\" needs argument \"\(argument.name)\"")
            }
            if argument.kind == .integer, value.rounded() != value {
                throw ArgumentError(message: "argument \"\(argument.name)\" must be an integer, not \(value)")
            }
            if let range = argument.range, !range.contains(value) {
                throw ArgumentError(message: "argument \"\(argument.name)\" must be from \(range.lowerBound) to \(range.upperBound), not \(value)")
            }
        }
    }

    /// The request bytes for `values` (already validated) and Modbus `unit`.
    public func render(_ values: [String: Double], unit: UInt8) -> [UInt8] {
        switch request {
        case .bytes(let template):
            return template.render { values[$0] ?? 0 }
        case .modbusWrite(let function, let register, let fixed, let argument):
            let reported = argument.flatMap { values[$0] } ?? fixed ?? 0
            return ModbusRTU.writeRequest(
                unit: unit, function: function, address: UInt16(register.address),
                words: register.encode(register.unscaled(reported))
            )
        }
    }

    /// Reads the `commands` object: command name → definition.
    public static func readAll(_ section: inout JSONObjectReader, modbus: Bool) -> [String: CommandSpec] {
        var commands: [String: CommandSpec] = [:]
        for name in section.keys {
            guard var reader = section.object(name) else { continue }
            if name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
                section.fail(key: name, "command names use letters, digits, '-' and '_'")
            }
            if let command = read(name: name, &reader, modbus: modbus) { commands[name] = command }
            section.absorb(reader)
        }
        return commands
    }

    static func read(name: String, _ reader: inout JSONObjectReader, modbus: Bool) -> CommandSpec? {
        var arguments: [Argument] = []
        if var table = reader.object("arguments") {
            for key in table.keys {
                guard var spec = table.object(key) else { continue }
                let kind = spec.choice("type", Argument.Kind.self, required: true)
                let low = spec.number("min")
                let high = spec.number("max")
                let lower = low ?? -.infinity
                let upper = high ?? .infinity
                if lower > upper { spec.fail(key: "min", "must not be greater than max") }
                if let kind, lower <= upper { arguments.append(Argument(name: key, kind: kind, range: lower...upper)) }
                table.absorb(spec)
            }
            reader.absorb(table)
        }
        let argumentNames = Set(arguments.map(\.name))
        var request: Request?
        switch (reader.has("request"), reader.has("modbus")) {
        case (true, false):
            if let template = FrameTemplate.read("request", valueKey: "argument", from: &reader) {
                for used in template.valueNames where !argumentNames.contains(used) {
                    reader.fail(key: "request", "uses argument \"\(used)\", which is not in arguments")
                }
                request = .bytes(template)
            }
        case (false, true):
            guard modbus else {
                reader.fail(key: "modbus", "needs a Modbus profile (a modbus section)")
                break
            }
            if var write = reader.object("modbus") {
                request = readModbusWrite(&write, arguments: argumentNames)
                reader.absorb(write)
            }
        case (true, true):
            reader.fail(reader.path, "has both \"request\" and \"modbus\"; use one")
        case (false, false):
            reader.fail(reader.path, "needs a \"request\" (bytes) or, on Modbus devices, a \"modbus\" write")
        }
        var response: Response = .none
        if case .modbusWrite? = request {
            response = .modbus
            if reader.has("response") { reader.fail(key: "response", "a Modbus write is answered by its echo; remove it") }
        } else if let node = reader.value("response") {
            switch node {
            case .string("none"): response = .none
            case .string("frame"): response = .frame(prefix: nil)
            case .object:
                var spec = JSONObjectReader(node, file: reader.file, path: reader.path(of: "response"))
                let hex = spec.string("startsWith", required: true)
                let prefix = hex.flatMap(Hex.decode)
                if hex != nil, prefix?.isEmpty ?? true { spec.fail(key: "startsWith", "must be pairs of hex digits") }
                response = .frame(prefix: prefix)
                reader.absorb(spec)
            default:
                reader.fail(key: "response", "must be \"none\", \"frame\" or {\"startsWith\": HEX}")
            }
        }
        let timeout = reader.integer("timeoutMs", in: 1...60_000) ?? 1000
        let retries = reader.integer("retries", in: 0...10) ?? 0
        guard let request, reader.isClean else { return nil }
        return CommandSpec(
            name: name, arguments: arguments, request: request, response: response,
            timeout: .milliseconds(timeout), retries: retries
        )
    }

    static func readModbusWrite(_ write: inout JSONObjectReader, arguments: Set<String>) -> Request? {
        let functionCode = write.integer("function", in: 6...16) ?? 16
        let function: ModbusRTU.Function? = functionCode == 6 ? .writeSingleRegister : functionCode == 16 ? .writeMultipleRegisters : nil
        if function == nil { write.fail(key: "function", "must be 6 (write single register) or 16 (write multiple registers)") }
        let address = write.integer("address", in: 0...65535, required: true)
        let type = write.choice("type", ModbusRegister.DataType.self) ?? .u16
        let wordOrder = write.choice("wordOrder", ModbusRegister.WordOrder.self) ?? .big
        let scale = write.number("scale")
        if scale == 0 { write.fail(key: "scale", "must not be 0") }
        let value = write.number("value")
        let argument = write.string("argument")
        if function == .writeSingleRegister, type.words != 1 {
            write.fail(key: "type", "function 6 writes one register; \(type.rawValue) needs \(type.words), use function 16")
        }
        switch (value, argument) {
        case (nil, nil): write.fail(write.path, "needs a \"value\" or an \"argument\"")
        case (.some, .some): write.fail(write.path, "has both \"value\" and \"argument\"; use one")
        case (nil, let name?) where !arguments.contains(name): write.fail(key: "argument", "\"\(name)\" is not in arguments")
        default: break
        }
        guard let function, let address, write.isClean else { return nil }
        let field = FieldSpec(name: "value", scale: scale)
        let register = ModbusRegister(field: field, table: .holding, address: address, type: type, wordOrder: wordOrder)
        return .modbusWrite(function: function, register: register, value: value, argument: argument)
    }
}
