import SerialBridgeJSON

/// Why a message could not be decoded.
public struct MessageDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, naming the field.
    public var reason: String

    /// Creates an error.
    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}

/// JSON text encoding of ``Message``, as specified in docs/PROTOCOL.md.
///
/// Encoding is byte-exact and deterministic (fields in the documented order). Decoding is strict
/// about types and required fields and ignores unknown fields, so newer peers can add some.
public enum MessageCodec {
    /// Largest message accepted by ``decode(_:)``.
    public static let maxMessageBytes = 1 << 20

    /// Encodes a message as compact UTF-8 JSON.
    public static func encode(_ message: Message) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        switch message {
        case .hello(let hello):
            writer.key("type"); writer.string("hello")
            writer.key("gateway"); writer.string(hello.gateway)
            writer.key("software"); writer.string(hello.software)
            writer.key("protocols")
            writer.beginArray()
            for version in hello.protocols { writer.integer(Int64(version)) }
            writer.endArray()
            writer.key("epoch"); writer.integer(hello.epoch)
            writer.key("lastSeq"); writer.integer(hello.lastSequence)
            if let dropped = hello.dropped {
                writer.key("dropped"); writer.integer(dropped)
            }
        case .welcome(let welcome):
            writer.key("type"); writer.string("welcome")
            writer.key("protocol"); writer.integer(Int64(welcome.protocolVersion))
            writer.key("acked")
            if let acked = welcome.acked {
                writer.beginObject()
                writer.key("epoch"); writer.integer(acked.epoch)
                writer.key("seq"); writer.integer(acked.sequence)
                writer.endObject()
            } else {
                writer.null()
            }
            writer.key("heartbeatMs"); writer.integer(welcome.heartbeatMs)
            writer.key("maxMessageBytes"); writer.integer(welcome.maxMessageBytes)
            writer.key("chunkBytes"); writer.integer(welcome.chunkBytes)
        case .reading(let reading):
            writer.key("type"); writer.string("reading")
            writeReadingFields(reading, into: &writer)
        case .device(let event):
            writer.key("type"); writer.string("device")
            writer.key("gateway"); writer.string(event.gateway)
            writer.key("epoch"); writer.integer(event.id.epoch)
            writer.key("seq"); writer.integer(event.id.sequence)
            writer.key("device"); writer.string(event.device)
            writer.key("event"); writer.string(event.kind.rawValue)
            writer.key("profile"); writer.string(event.profile)
            writer.key("path"); writer.string(event.path)
            writer.key("ts"); writer.integer(event.timestamp)
            if let message = event.message {
                writer.key("message"); writer.string(message)
            }
            writer.key("counters")
            writer.beginObject()
            for (name, value) in event.counters {
                writer.key(name); writer.integer(value)
            }
            writer.endObject()
            if let commands = event.commands {
                writer.key("commands")
                CommandDescription.write(commands, into: &writer)
            }
        case .ack(let ack):
            writer.key("type"); writer.string("ack")
            writer.key("epoch"); writer.integer(ack.id.epoch)
            writer.key("seq"); writer.integer(ack.id.sequence)
        case .ping(let beat):
            writer.key("type"); writer.string("ping")
            writer.key("ts"); writer.integer(beat.timestamp)
        case .pong(let beat):
            writer.key("type"); writer.string("pong")
            writer.key("ts"); writer.integer(beat.timestamp)
            if let server = beat.serverTimestamp {
                writer.key("serverTs"); writer.integer(server)
            }
        case .error(let error):
            writer.key("type"); writer.string("error")
            writer.key("code"); writer.string(error.code)
            writer.key("message"); writer.string(error.message)
        case .batch(let items):
            return batch(encoded: items.map(encode))
        case .command, .commandResult, .tapStart, .tapStop, .tapData, .link:
            writeDownlink(message, into: &writer)
        }
        writer.endObject()
        return writer.bytes
    }

    static func writeReadingFields(_ reading: Reading, into writer: inout JSONWriter) {
        writer.key("gateway"); writer.string(reading.gateway)
        writer.key("epoch"); writer.integer(reading.id.epoch)
        writer.key("seq"); writer.integer(reading.id.sequence)
        writer.key("device"); writer.string(reading.device)
        writer.key("profile"); writer.string(reading.profile)
        writer.key("ts"); writer.integer(reading.timestamp)
        writeValues(reading.values, outOfRange: reading.outOfRange, into: &writer)
    }

    /// Writes a reading's `"values": {…}`, `"units": {…}` and, when any, `"outOfRange": […]` members.
    public static func writeValues(_ values: [NamedValue], outOfRange: [String], into writer: inout JSONWriter) {
        writer.key("values")
        writer.beginObject()
        for named in values {
            writer.key(named.name)
            writeValue(named.value, into: &writer)
        }
        writer.endObject()
        writer.key("units")
        writer.beginObject()
        for named in values {
            if let unit = named.unit {
                writer.key(named.name)
                writer.string(unit)
            }
        }
        writer.endObject()
        if !outOfRange.isEmpty {
            writer.key("outOfRange")
            writer.beginArray()
            for name in outOfRange { writer.string(name) }
            writer.endArray()
        }
    }

    /// Writes one value: a number, string or boolean, or `{"base64": "..."}` for bytes.
    public static func writeValue(_ value: WireValue, into writer: inout JSONWriter) {
        switch value {
        case .float(let value): writer.float(value)
        case .integer(let value): writer.integer(value)
        case .string(let value): writer.string(value)
        case .boolean(let value): writer.bool(value)
        case .bytes(let bytes):
            writer.beginObject()
            writer.key("base64")
            writer.string(Base64.encode(bytes))
            writer.endObject()
        }
    }

    /// `{"type":"batch","items":[…]}` around messages already encoded (readings and device events,
    /// in identity order): a batch costs one copy of its items, never a re-encoding.
    public static func batch(encoded items: some Collection<[UInt8]>) -> [UInt8] {
        let (bytes, ranges) = laidEndToEnd(items)
        return batch(encoded: ranges, of: bytes)
    }

    /// ``batch(encoded:)`` for messages laid end to end in one buffer: `items` are their ranges
    /// in `bytes`.
    public static func batch(encoded items: [Range<Int>], of bytes: [UInt8]) -> [UInt8] {
        var batch = batchHead
        batch.reserveCapacity(batchHead.count + items.reduce(2) { $0 + $1.count + 1 })
        for (index, item) in items.enumerated() {
            if index > 0 { batch.append(UInt8(ascii: ",")) }
            batch.append(contentsOf: bytes[item])
        }
        batch.append(contentsOf: [UInt8(ascii: "]"), UInt8(ascii: "}")])
        return batch
    }

    /// `items` in one buffer, and where each lies in it: the form the batch builders take.
    public static func laidEndToEnd(_ items: some Collection<[UInt8]>) -> (bytes: [UInt8], ranges: [Range<Int>]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(items.reduce(0) { $0 + $1.count })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(items.count)
        for item in items {
            ranges.append(bytes.count..<(bytes.count + item.count))
            bytes.append(contentsOf: item)
        }
        return (bytes, ranges)
    }

    private static let batchHead = Array(#"{"type":"batch","items":["#.utf8)

    /// Decodes one JSON text message of at most `limit` bytes.
    /// - Throws: ``MessageDecodingError`` naming the problem (size, syntax, type, missing field).
    public static func decode(_ bytes: some Collection<UInt8>, limit: Int = maxMessageBytes) throws(MessageDecodingError) -> Message {
        guard bytes.count <= limit else {
            throw MessageDecodingError("message of \(bytes.count) bytes exceeds \(limit)")
        }
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw MessageDecodingError("invalid JSON: \(error)")
        }
        return try decode(root: root, inBatch: false)
    }

    static func decode(root: JSONNode, inBatch: Bool) throws(MessageDecodingError) -> Message {
        var fields = FieldReader(root)
        let type = try fields.string("type")
        if inBatch, type != "reading", type != "device" {
            throw MessageDecodingError("batch.items may hold readings and device events, not \"\(type)\"")
        }
        switch type {
        case "batch":
            let items = try fields.array("items")
            guard !items.isEmpty else { throw MessageDecodingError("batch.items must not be empty") }
            var messages: [Message] = []
            messages.reserveCapacity(items.count)
            for item in items { messages.append(try decode(root: item, inBatch: true)) }
            return .batch(messages)
        case "hello":
            let protocols = try fields.array("protocols").map { (node) throws(MessageDecodingError) -> Int in
                guard case .integer(let value) = node, let version = Int(exactly: value) else {
                    throw MessageDecodingError("hello.protocols must hold integers")
                }
                return version
            }
            return .hello(Hello(
                gateway: try fields.string("gateway"), software: try fields.string("software"),
                protocols: protocols, epoch: try fields.integer("epoch"), lastSequence: try fields.integer("lastSeq"),
                dropped: try fields.optionalInteger("dropped")
            ))
        case "welcome":
            var acked: ReadingID?
            if let node = root["acked"], node != .null {
                var ackedFields = FieldReader(node, context: "welcome.acked")
                acked = ReadingID(epoch: try ackedFields.integer("epoch"), sequence: try ackedFields.integer("seq"))
            }
            let defaults = Welcome(acked: nil)
            return .welcome(Welcome(
                protocolVersion: Int(try fields.integer("protocol")), acked: acked,
                heartbeatMs: try fields.integer("heartbeatMs"),
                maxMessageBytes: try fields.optionalInteger("maxMessageBytes") ?? defaults.maxMessageBytes,
                chunkBytes: try fields.optionalInteger("chunkBytes") ?? defaults.chunkBytes
            ))
        case "reading":
            return .reading(try decodeReading(root, fields: &fields))
        case "device":
            let kindText = try fields.string("event")
            guard let kind = DeviceStateChange.Kind(rawValue: kindText) else {
                throw MessageDecodingError("device.event must be attached, detached or error, not \"\(kindText)\"")
            }
            var counters: [(String, Int64)] = []
            if let node = root["counters"] {
                guard case .object(let pairs) = node else { throw MessageDecodingError("device.counters must be an object") }
                for (name, value) in pairs {
                    guard case .integer(let number) = value else { throw MessageDecodingError("device.counters.\(name) must be an integer") }
                    counters.append((name, number))
                }
            }
            var message: String?
            if let node = root["message"] {
                guard case .string(let text) = node else { throw MessageDecodingError("device.message must be a string") }
                message = text
            }
            var commands: [CommandDescription]?
            if let node = root["commands"] {
                commands = try CommandDescription.read(node, context: "device.commands")
            }
            let epoch = try fields.integer("epoch")
            let sequence = try fields.integer("seq")
            guard epoch > 0, sequence > 0 else { throw MessageDecodingError("device epoch and seq must be positive") }
            return .device(DeviceStateChange(
                gateway: try fields.string("gateway"), id: ReadingID(epoch: epoch, sequence: sequence),
                device: try fields.string("device"), kind: kind, profile: try fields.string("profile"),
                path: try fields.string("path"), timestamp: try fields.integer("ts"), message: message, counters: counters,
                commands: commands
            ))
        case "ack":
            return .ack(Ack(id: ReadingID(epoch: try fields.integer("epoch"), sequence: try fields.integer("seq"))))
        case "ping":
            return .ping(Heartbeat(timestamp: try fields.integer("ts")))
        case "pong":
            return .pong(Heartbeat(timestamp: try fields.integer("ts"), serverTimestamp: try fields.optionalInteger("serverTs")))
        case "error":
            return .error(ProtocolErrorMessage(code: try fields.string("code"), message: try fields.string("message")))
        default:
            if let message = try decodeDownlink(type: type, root: root, fields: &fields) { return message }
            throw MessageDecodingError("unknown message type \"\(type)\"")
        }
    }

    static func decodeReading(_ root: JSONNode, fields: inout FieldReader) throws(MessageDecodingError) -> Reading {
        guard case .object(let valuePairs)? = root["values"] else {
            throw MessageDecodingError("reading.values must be an object")
        }
        var units: [String: String] = [:]
        if let unitsNode = root["units"] {
            guard case .object(let unitPairs) = unitsNode else { throw MessageDecodingError("reading.units must be an object") }
            for (name, node) in unitPairs {
                guard case .string(let unit) = node else { throw MessageDecodingError("reading.units.\(name) must be a string") }
                units[name] = unit
            }
        }
        var values: [NamedValue] = []
        values.reserveCapacity(valuePairs.count)
        for (name, node) in valuePairs {
            let value: WireValue
            switch node {
            case .float(let number): value = .float(number)
            case .integer(let number): value = .integer(number)
            case .string(let text): value = .string(text)
            case .bool(let flag): value = .boolean(flag)
            case .object(let pairs) where pairs.count == 1 && pairs[0].0 == "base64":
                guard case .string(let text) = pairs[0].1, let bytes = Base64.decode(text) else {
                    throw MessageDecodingError("reading.values.\(name).base64 must be padded base64")
                }
                value = .bytes(bytes)
            default: throw MessageDecodingError("reading.values.\(name) must be a number, string, boolean or {\"base64\": …}")
            }
            values.append(NamedValue(name: name, value: value, unit: units[name]))
        }
        var outOfRange: [String] = []
        if let flagged = root["outOfRange"] {
            guard case .array(let items) = flagged else { throw MessageDecodingError("reading.outOfRange must be an array") }
            for item in items {
                guard case .string(let name) = item else { throw MessageDecodingError("reading.outOfRange must hold strings") }
                outOfRange.append(name)
            }
        }
        let epoch = try fields.integer("epoch")
        let sequence = try fields.integer("seq")
        guard epoch > 0, sequence > 0 else { throw MessageDecodingError("reading epoch and seq must be positive") }
        return Reading(
            gateway: try fields.string("gateway"), id: ReadingID(epoch: epoch, sequence: sequence),
            device: try fields.string("device"), profile: try fields.string("profile"),
            timestamp: try fields.integer("ts"), values: values, outOfRange: outOfRange
        )
    }
}

/// Typed access to the fields of a message object, with errors that name the field.
struct FieldReader {
    let node: JSONNode
    let context: String

    init(_ node: JSONNode, context: String? = nil) {
        self.node = node
        self.context = context ?? {
            if case .string(let type)? = node["type"] { return type }
            return "message"
        }()
    }

    mutating func string(_ key: String) throws(MessageDecodingError) -> String {
        guard case .object = node else { throw MessageDecodingError("\(context) must be a JSON object") }
        guard let value = node[key] else { throw MessageDecodingError("\(context).\(key) is missing") }
        guard case .string(let text) = value else { throw MessageDecodingError("\(context).\(key) must be a string") }
        return text
    }

    mutating func integer(_ key: String) throws(MessageDecodingError) -> Int64 {
        guard let number = try optionalInteger(key) else { throw MessageDecodingError("\(context).\(key) is missing") }
        return number
    }

    mutating func optionalInteger(_ key: String) throws(MessageDecodingError) -> Int64? {
        guard case .object = node else { throw MessageDecodingError("\(context) must be a JSON object") }
        guard let value = node[key] else { return nil }
        guard case .integer(let number) = value else { throw MessageDecodingError("\(context).\(key) must be an integer") }
        return number
    }

    mutating func array(_ key: String) throws(MessageDecodingError) -> [JSONNode] {
        guard let value = node[key] else { throw MessageDecodingError("\(context).\(key) is missing") }
        guard case .array(let items) = value else { throw MessageDecodingError("\(context).\(key) must be an array") }
        return items
    }
}
