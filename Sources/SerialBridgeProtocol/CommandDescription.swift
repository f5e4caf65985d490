import SerialBridgeJSON

/// A command a device takes, as its gateway describes it in `attached` device events (PROTOCOL.md,
/// `device`, field `commands`): the name and the typed, bounded arguments of an entry of the
/// profile's `commands`, without its bytes. The server keeps the latest list per device and the
/// dashboard builds a form from it.
public struct CommandDescription: Sendable, Hashable {
    /// One argument.
    public struct Argument: Sendable, Hashable {
        /// What values it takes.
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            /// Whole numbers.
            case integer
            /// Any finite number.
            case number
        }

        /// Name, as the command's `arguments` give it.
        public var name: String
        /// Kind.
        public var kind: Kind
        /// Smallest allowed value; nil for no bound.
        public var min: Double?
        /// Largest allowed value; nil for no bound.
        public var max: Double?

        /// Creates an argument.
        public init(name: String, kind: Kind, min: Double? = nil, max: Double? = nil) {
            self.name = name
            self.kind = kind
            self.min = min
            self.max = max
        }
    }

    /// Command name.
    public var name: String
    /// Arguments, in the order the profile lists them.
    public var arguments: [Argument]

    /// Creates a description.
    public init(name: String, arguments: [Argument] = []) {
        self.name = name
        self.arguments = arguments
    }

    /// Writes `commands` as the JSON array the protocol and the HTTP API share:
    /// `[{"name":"calibrateSpan","arguments":[{"name":"ppm","type":"integer","min":1000.0,"max":10000.0}]}]`.
    public static func write(_ commands: [CommandDescription], into writer: inout JSONWriter) {
        writer.beginArray()
        for command in commands {
            writer.beginObject()
            writer.key("name"); writer.string(command.name)
            writer.key("arguments")
            writer.beginArray()
            for argument in command.arguments {
                writer.beginObject()
                writer.key("name"); writer.string(argument.name)
                writer.key("type"); writer.string(argument.kind.rawValue)
                if let min = argument.min, min.isFinite {
                    writer.key("min"); writer.float(min)
                }
                if let max = argument.max, max.isFinite {
                    writer.key("max"); writer.float(max)
                }
                writer.endObject()
            }
            writer.endArray()
            writer.endObject()
        }
        writer.endArray()
    }

    /// `commands` as that JSON array, in a string.
    public static func json(_ commands: [CommandDescription]) -> String {
        var writer = JSONWriter(capacity: 64 * max(commands.count, 1))
        write(commands, into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Reads that JSON array; errors name the element at fault (`device.commands[1].arguments[0].type`).
    static func read(_ node: JSONNode, context: String) throws(MessageDecodingError) -> [CommandDescription] {
        guard case .array(let items) = node else { throw MessageDecodingError("\(context) must be an array") }
        var commands: [CommandDescription] = []
        for (index, item) in items.enumerated() {
            let path = "\(context)[\(index)]"
            guard case .string(let name)? = item["name"] else { throw MessageDecodingError("\(path).name must be a string") }
            var arguments: [Argument] = []
            switch item["arguments"] {
            case nil:
                break
            case .array(let list)?:
                for (position, entry) in list.enumerated() {
                    arguments.append(try readArgument(entry, path: "\(path).arguments[\(position)]"))
                }
            default:
                throw MessageDecodingError("\(path).arguments must be an array")
            }
            commands.append(CommandDescription(name: name, arguments: arguments))
        }
        return commands
    }

    private static func readArgument(_ node: JSONNode, path: String) throws(MessageDecodingError) -> Argument {
        guard case .string(let name)? = node["name"] else { throw MessageDecodingError("\(path).name must be a string") }
        guard case .string(let kindText)? = node["type"], let kind = Argument.Kind(rawValue: kindText) else {
            throw MessageDecodingError("\(path).type must be integer or number")
        }
        func bound(_ key: String) throws(MessageDecodingError) -> Double? {
            switch node[key] {
            case nil: return nil
            case .integer(let value)?: return Double(value)
            case .float(let value)?: return value
            default: throw MessageDecodingError("\(path).\(key) must be a number")
            }
        }
        return Argument(name: name, kind: kind, min: try bound("min"), max: try bound("max"))
    }
}
