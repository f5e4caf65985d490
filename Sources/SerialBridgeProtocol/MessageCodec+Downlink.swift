import SerialBridgeJSON

/// JSON of the command, tap and link messages (docs/PROTOCOL.md, "Commands, taps and link health").
extension MessageCodec {
    static func writeDownlink(_ message: Message, into writer: inout JSONWriter) {
        switch message {
        case .command(let command):
            writer.key("type"); writer.string("command")
            writer.key("id"); writer.string(command.id)
            writer.key("device"); writer.string(command.device)
            writer.key("name"); writer.string(command.name)
            writer.key("args")
            writer.beginObject()
            for name in command.arguments.keys.sorted() {
                writer.key(name)
                writeNumber(command.arguments[name] ?? 0, into: &writer)
            }
            writer.endObject()
        case .commandResult(let result):
            writer.key("type"); writer.string("command_result")
            writer.key("id"); writer.string(result.id)
            writer.key("device"); writer.string(result.device)
            writer.key("status"); writer.string(result.status.rawValue)
            if let response = result.response {
                writer.key("response"); writeValue(.bytes(response), into: &writer)
            }
            if let code = result.exceptionCode {
                writer.key("exceptionCode"); writer.integer(Int64(code))
            }
            if let message = result.message {
                writer.key("message"); writer.string(message)
            }
        case .tapStart(let tap), .tapStop(let tap):
            if case .tapStart = message { writer.key("type"); writer.string("tap_start") } else { writer.key("type"); writer.string("tap_stop") }
            writer.key("device"); writer.string(tap.device)
        case .tapData(let data):
            writer.key("type"); writer.string("tap_data")
            writer.key("device"); writer.string(data.device)
            writer.key("ts"); writer.integer(data.timestamp)
            writer.key("dir"); writer.string(data.direction.rawValue)
            writer.key("data"); writeValue(.bytes(data.bytes), into: &writer)
            writer.key("dropped"); writer.integer(data.dropped)
        case .link(let link):
            writer.key("type"); writer.string("link")
            writer.key("ts"); writer.integer(link.timestamp)
            if let rtt = link.rttLastMs { writer.key("rttMs"); writer.integer(rtt) }
            if let mean = link.rttMeanMs { writer.key("rttMeanMs"); writer.float(mean) }
            if let p99 = link.rttP99Ms { writer.key("rttP99Ms"); writer.integer(p99) }
            writer.key("missedBeats"); writer.integer(link.missedBeats)
            writer.key("endings")
            writer.beginObject()
            for (cause, count) in link.endings {
                writer.key(cause); writer.integer(count)
            }
            writer.endObject()
            writer.key("messagesOut"); writer.integer(link.messagesOut)
            writer.key("bytesOut"); writer.integer(link.bytesOut)
            writer.key("messagesIn"); writer.integer(link.messagesIn)
            writer.key("bytesIn"); writer.integer(link.bytesIn)
            writer.key("queueDepth"); writer.integer(link.queueDepth)
        default:
            break
        }
    }

    /// A whole number as an integer (`100`), anything else as a float.
    static func writeNumber(_ value: Double, into writer: inout JSONWriter) {
        if value.rounded() == value, value.magnitude < 9e15 {
            writer.integer(Int64(value))
        } else {
            writer.float(value)
        }
    }

    static func decodeDownlink(type: String, root: JSONNode, fields: inout FieldReader) throws(MessageDecodingError) -> Message? {
        switch type {
        case "command":
            var arguments: [String: Double] = [:]
            if let node = root["args"] {
                guard case .object(let pairs) = node else { throw MessageDecodingError("command.args must be an object") }
                for (name, value) in pairs {
                    switch value {
                    case .integer(let number): arguments[name] = Double(number)
                    case .float(let number): arguments[name] = number
                    default: throw MessageDecodingError("command.args.\(name) must be a number")
                    }
                }
            }
            return .command(CommandRequest(
                id: try fields.string("id"), device: try fields.string("device"), name: try fields.string("name"), arguments: arguments
            ))
        case "command_result":
            let statusText = try fields.string("status")
            guard let status = CommandResultMessage.Status(rawValue: statusText) else {
                throw MessageDecodingError("command_result.status must be one of \(CommandResultMessage.Status.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(statusText)\"")
            }
            var response: [UInt8]?
            if let node = root["response"] {
                guard case .object(let pairs) = node, pairs.count == 1, pairs[0].0 == "base64", case .string(let text) = pairs[0].1,
                      let bytes = Base64.decode(text) else {
                    throw MessageDecodingError("command_result.response must be {\"base64\": …}")
                }
                response = bytes
            }
            var message: String?
            if let node = root["message"] {
                guard case .string(let text) = node else { throw MessageDecodingError("command_result.message must be a string") }
                message = text
            }
            return .commandResult(CommandResultMessage(
                id: try fields.string("id"), device: try fields.string("device"), status: status, response: response,
                exceptionCode: try fields.optionalInteger("exceptionCode").map { Int(clamping: $0) }, message: message
            ))
        case "tap_start":
            return .tapStart(TapRequest(device: try fields.string("device")))
        case "tap_stop":
            return .tapStop(TapRequest(device: try fields.string("device")))
        case "tap_data":
            let directionText = try fields.string("dir")
            guard let direction = TapData.Direction(rawValue: directionText) else {
                throw MessageDecodingError("tap_data.dir must be rx or tx, not \"\(directionText)\"")
            }
            guard case .object(let pairs)? = root["data"], pairs.count == 1, pairs[0].0 == "base64", case .string(let text) = pairs[0].1,
                  let bytes = Base64.decode(text) else {
                throw MessageDecodingError("tap_data.data must be {\"base64\": …}")
            }
            return .tapData(TapData(
                device: try fields.string("device"), timestamp: try fields.integer("ts"), direction: direction, bytes: bytes,
                dropped: try fields.optionalInteger("dropped") ?? 0
            ))
        case "link":
            var endings: [(String, Int64)] = []
            if let node = root["endings"] {
                guard case .object(let pairs) = node else { throw MessageDecodingError("link.endings must be an object") }
                for (cause, value) in pairs {
                    guard case .integer(let count) = value else { throw MessageDecodingError("link.endings.\(cause) must be an integer") }
                    endings.append((cause, count))
                }
            }
            var mean: Double?
            switch root["rttMeanMs"] {
            case .float(let number)?: mean = number
            case .integer(let number)?: mean = Double(number)
            case nil: mean = nil
            default: throw MessageDecodingError("link.rttMeanMs must be a number")
            }
            return .link(LinkReport(
                timestamp: try fields.integer("ts"), rttLastMs: try fields.optionalInteger("rttMs"), rttMeanMs: mean,
                rttP99Ms: try fields.optionalInteger("rttP99Ms"), missedBeats: try fields.optionalInteger("missedBeats") ?? 0,
                endings: endings, messagesOut: try fields.optionalInteger("messagesOut") ?? 0,
                bytesOut: try fields.optionalInteger("bytesOut") ?? 0, messagesIn: try fields.optionalInteger("messagesIn") ?? 0,
                bytesIn: try fields.optionalInteger("bytesIn") ?? 0, queueDepth: try fields.optionalInteger("queueDepth") ?? 0
            ))
        default:
            return nil
        }
    }
}
