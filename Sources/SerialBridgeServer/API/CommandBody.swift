import SerialBridgeJSON

/// The body of `POST /api/devices/{id}/commands`: `{"name": "…", "arguments": {"ppm": 2000}, "timeoutMs": 30000}`.
struct CommandBody: Sendable, Hashable {
    /// Command name in the device's profile.
    var name: String
    /// Arguments, numbers by name, in the order given.
    var arguments: [(String, Double)]
    /// How long to wait for the result.
    var timeoutMs: Int64

    /// Default wait for a result, ms.
    static let defaultTimeoutMs: Int64 = 30_000
    /// Longest wait for a result that may be asked for, ms.
    static let maxTimeoutMs: Int64 = 300_000
    /// Largest body accepted.
    static let maxBytes = 16_384

    /// Parses and checks a body, naming the field at fault.
    static func parse(_ bytes: [UInt8]) throws(APIError) -> CommandBody {
        let node: JSONNode
        do {
            node = try JSONParser.parse(bytes)
        } catch {
            throw .badRequest("the body must be JSON: \(error)")
        }
        guard case .object(let fields) = node else { throw .badRequest("the body must be a JSON object") }
        for (key, _) in fields where !["name", "arguments", "timeoutMs"].contains(key) {
            throw .badRequest("unknown field \"\(key)\"; a command has name, arguments and timeoutMs")
        }
        guard case .string(let name)? = node["name"], !name.isEmpty, name.utf8.count <= 200 else {
            throw .badRequest("name must be the command's name (a string of 1 to 200 bytes)")
        }
        var arguments: [(String, Double)] = []
        switch node["arguments"] {
        case nil, .null?:
            break
        case .object(let pairs)?:
            for (key, value) in pairs {
                guard !arguments.contains(where: { $0.0 == key }) else { throw .badRequest("arguments.\(key) is given twice") }
                switch value {
                case .integer(let number): arguments.append((key, Double(number)))
                case .float(let number) where number.isFinite: arguments.append((key, number))
                default: throw .badRequest("arguments.\(key) must be a number")
                }
            }
        default:
            throw .badRequest("arguments must be an object of numbers, e.g. {\"ppm\": 2000}")
        }
        var timeout = defaultTimeoutMs
        switch node["timeoutMs"] {
        case nil:
            break
        case .integer(let value)? where (1...maxTimeoutMs).contains(value):
            timeout = value
        default:
            throw .badRequest("timeoutMs must be an integer from 1 to \(maxTimeoutMs)")
        }
        return CommandBody(name: name, arguments: arguments, timeoutMs: timeout)
    }

    static func == (lhs: CommandBody, rhs: CommandBody) -> Bool {
        lhs.name == rhs.name && lhs.timeoutMs == rhs.timeoutMs && lhs.arguments.elementsEqual(rhs.arguments, by: { $0 == $1 })
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(name)
    }
}
