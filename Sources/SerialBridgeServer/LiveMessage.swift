import SerialBridgeJSON
import SerialBridgeProtocol

/// Messages pushed to dashboards over the live WebSocket (docs/API.md lists them).
enum LiveMessage {
    /// A gateway came online or went offline.
    static func gateway(_ gateway: String, online: Bool, at time: Int64, reason: String?) -> String {
        var writer = JSONWriter(capacity: 160)
        writer.beginObject()
        writer.key("type"); writer.string("gateway")
        writer.key("gateway"); writer.string(gateway)
        writer.key("online"); writer.bool(online)
        writer.key("ts"); writer.integer(time)
        if let reason {
            writer.key("reason"); writer.string(reason)
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func link(gateway: String, _ report: LinkReport) -> String {
        var writer = JSONWriter(capacity: 200)
        writer.beginObject()
        writer.key("type"); writer.string("link")
        writer.key("gateway"); writer.string(gateway)
        writer.key("ts"); writer.integer(report.timestamp)
        if let rtt = report.rttLastMs { writer.key("rttMs"); writer.integer(rtt) }
        writer.key("queueDepth"); writer.integer(report.queueDepth)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func tap(gateway: String, _ data: TapData) -> String {
        var writer = JSONWriter(capacity: 64 + data.bytes.count * 2)
        writer.beginObject()
        writer.key("type"); writer.string("tap")
        writer.key("id"); writer.string("\(gateway):\(data.device)")
        writer.key("ts"); writer.integer(data.timestamp)
        writer.key("dir"); writer.string(data.direction.rawValue)
        writer.key("base64"); writer.string(Base64.encode(data.bytes))
        writer.key("dropped"); writer.integer(data.dropped)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func device(_ event: DeviceStateChange) -> String {
        var writer = JSONWriter(capacity: 200)
        writer.beginObject()
        writer.key("type"); writer.string("device")
        writer.key("id"); writer.string("\(event.gateway):\(event.device)")
        writer.key("gateway"); writer.string(event.gateway)
        writer.key("device"); writer.string(event.device)
        writer.key("profile"); writer.string(event.profile)
        writer.key("state"); writer.string(event.kind.rawValue)
        writer.key("ts"); writer.integer(event.timestamp)
        if let message = event.message {
            writer.key("message"); writer.string(message)
        }
        // The session's counters, so a dashboard shows the error counts without refetching.
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
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func reading(_ reading: Reading) -> String {
        var writer = JSONWriter(capacity: 200)
        writer.beginObject()
        writer.key("type"); writer.string("reading")
        writer.key("id"); writer.string("\(reading.gateway):\(reading.device)")
        writer.key("gateway"); writer.string(reading.gateway)
        writer.key("device"); writer.string(reading.device)
        writer.key("profile"); writer.string(reading.profile)
        writer.key("ts"); writer.integer(reading.timestamp)
        writer.endObject()
        var text = String(decoding: writer.bytes, as: UTF8.self)
        text.removeLast()
        let flags = ReadingJSON.names(reading.outOfRange).map { ",\"outOfRange\":" + $0 } ?? ""
        return text + ",\"values\":" + ReadingJSON.values(reading.values) + ",\"units\":" + ReadingJSON.units(reading.values) + flags + "}"
    }
}
