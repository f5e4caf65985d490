import SerialBridgeJSON
import SerialBridgeProtocol

/// What instances say to each other over the bus, as the JSON text of one NOTIFY payload
/// (docs/DEPLOYMENT.md, "How instances talk"). Pure: encoding and decoding only.
enum BusMessage: Sendable, Equatable {
    /// Live updates for dashboards: (device topic or nil for everyone, the update's JSON text).
    case live([LiveItem])
    /// The real message is too large for a NOTIFY: it is row `id` of `cluster_messages`.
    case stored(id: Int64)
    /// Deliver a command to a gateway connected to the addressee and answer with ``result``.
    case command(request: String, gateway: String, command: CommandRequest, timeoutMs: Int64)
    /// The answer to ``command``.
    case result(request: String, CommandResultMessage)
    /// Start or stop a raw tap on a gateway connected to the addressee; answered by ``tapped``.
    case tap(request: String, gateway: String, device: String, start: Bool)
    /// The answer to ``tap``: whether the gateway took it.
    case tapped(request: String, ok: Bool)

    /// One live update.
    struct LiveItem: Sendable, Equatable {
        var device: String?
        var text: String
    }

    /// A message with its sender and, for requests and answers, its addressee.
    struct Envelope: Sendable, Equatable {
        var from: String
        var to: String?
        var message: BusMessage
    }

    static let version: Int64 = 1
}

extension BusMessage.Envelope {
    /// The payload text.
    func encoded() -> String {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.key("v"); writer.integer(BusMessage.version)
        writer.key("from"); writer.string(from)
        if let to { writer.key("to"); writer.string(to) }
        switch message {
        case .live(let items):
            writer.key("kind"); writer.string("live")
            writer.key("items")
            writer.beginArray()
            for item in items { Self.write(item, into: &writer) }
            writer.endArray()
        case .stored(let id):
            writer.key("kind"); writer.string("stored")
            writer.key("id"); writer.integer(id)
        case .command(let request, let gateway, let command, let timeoutMs):
            writer.key("kind"); writer.string("command")
            writer.key("request"); writer.string(request)
            writer.key("gateway"); writer.string(gateway)
            writer.key("timeoutMs"); writer.integer(timeoutMs)
            writer.key("message"); writer.string(String(decoding: MessageCodec.encode(.command(command)), as: UTF8.self))
        case .result(let request, let result):
            writer.key("kind"); writer.string("result")
            writer.key("request"); writer.string(request)
            writer.key("message"); writer.string(String(decoding: MessageCodec.encode(.commandResult(result)), as: UTF8.self))
        case .tap(let request, let gateway, let device, let start):
            writer.key("kind"); writer.string("tap")
            writer.key("request"); writer.string(request)
            writer.key("gateway"); writer.string(gateway)
            writer.key("device"); writer.string(device)
            writer.key("start"); writer.bool(start)
        case .tapped(let request, let ok):
            writer.key("kind"); writer.string("tapped")
            writer.key("request"); writer.string(request)
            writer.key("ok"); writer.bool(ok)
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The encoded size of one live item inside `items`, comma included.
    static func encodedSize(_ item: BusMessage.LiveItem) -> Int {
        var writer = JSONWriter(capacity: item.text.utf8.count + 32)
        write(item, into: &writer)
        return writer.bytes.count + 1
    }

    private static func write(_ item: BusMessage.LiveItem, into writer: inout JSONWriter) {
        writer.beginArray()
        if let device = item.device { writer.string(device) } else { writer.null() }
        writer.string(item.text)
        writer.endArray()
    }

    /// Parses a payload; throws ``BusMessageError`` naming what is wrong.
    static func decode(_ text: String) throws(BusMessageError) -> BusMessage.Envelope {
        let node: JSONNode
        do {
            node = try JSONParser.parse(Array(text.utf8))
        } catch {
            throw BusMessageError("not JSON: \(error)")
        }
        guard case .integer(BusMessage.version)? = node["v"] else { throw BusMessageError("not a version \(BusMessage.version) bus message") }
        let from = try string(node, "from")
        let to: String? = if case .string(let value)? = node["to"] { value } else { nil }
        let message: BusMessage
        switch try string(node, "kind") {
        case "live":
            guard case .array(let items)? = node["items"] else { throw BusMessageError("live.items must be an array") }
            message = .live(try items.map { item throws(BusMessageError) in
                guard case .array(let pair) = item, pair.count == 2, case .string(let text) = pair[1] else {
                    throw BusMessageError("a live item must be [device or null, text]")
                }
                switch pair[0] {
                case .null: return BusMessage.LiveItem(device: nil, text: text)
                case .string(let device): return BusMessage.LiveItem(device: device, text: text)
                default: throw BusMessageError("a live item's device must be a string or null")
                }
            })
        case "stored":
            message = .stored(id: try integer(node, "id"))
        case "command":
            guard case .command(let command) = try embedded(node) else { throw BusMessageError("command.message is not a command") }
            message = .command(request: try string(node, "request"), gateway: try string(node, "gateway"), command: command, timeoutMs: try integer(node, "timeoutMs"))
        case "result":
            guard case .commandResult(let result) = try embedded(node) else { throw BusMessageError("result.message is not a command result") }
            message = .result(request: try string(node, "request"), result)
        case "tap":
            guard case .bool(let start)? = node["start"] else { throw BusMessageError("tap.start must be true or false") }
            message = .tap(request: try string(node, "request"), gateway: try string(node, "gateway"), device: try string(node, "device"), start: start)
        case "tapped":
            guard case .bool(let ok)? = node["ok"] else { throw BusMessageError("tapped.ok must be true or false") }
            message = .tapped(request: try string(node, "request"), ok: ok)
        case let kind:
            throw BusMessageError("unknown kind \"\(kind)\"")
        }
        return BusMessage.Envelope(from: from, to: to, message: message)
    }

    private static func string(_ node: JSONNode, _ key: String) throws(BusMessageError) -> String {
        guard case .string(let value)? = node[key] else { throw BusMessageError("\(key) must be a string") }
        return value
    }

    private static func integer(_ node: JSONNode, _ key: String) throws(BusMessageError) -> Int64 {
        guard case .integer(let value)? = node[key] else { throw BusMessageError("\(key) must be an integer") }
        return value
    }

    private static func embedded(_ node: JSONNode) throws(BusMessageError) -> Message {
        let text = try string(node, "message")
        do {
            return try MessageCodec.decode(Array(text.utf8), limit: 1 << 20)
        } catch {
            throw BusMessageError("message: \(error)")
        }
    }
}

/// A bus payload that cannot be read (from another software version, or damaged).
struct BusMessageError: Error, CustomStringConvertible, Equatable {
    let description: String
    init(_ description: String) { self.description = description }
}
