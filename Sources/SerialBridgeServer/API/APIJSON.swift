import SerialBridgeJSON
import SerialBridgeProtocol

/// The JSON shapes of the API's objects (docs/API.md shows each). Stored JSON fragments (values,
/// units, counters) are copied in as they are.
enum APIJSON {
    static func device(_ device: DeviceSummary, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id"); writer.string(device.id)
        writer.key("gateway"); writer.string(device.gateway)
        writer.key("device"); writer.string(device.device)
        writer.key("profile"); writer.string(device.profile)
        writer.key("lastTs"); writer.integer(device.lastTimestamp)
        writer.key("readings"); writer.integer(device.readingCount)
        if let state = device.state {
            writer.key("state"); writer.string(state)
        }
        if let message = device.stateMessage {
            writer.key("stateMessage"); writer.string(message)
        }
        if let counters = device.stateCountersJSON {
            writer.key("counters"); writer.rawValue(counters)
        }
        writer.key("values"); writer.rawValue(device.lastValuesJSON)
        writer.key("units"); writer.rawValue(device.unitsJSON)
        if let flags = device.lastOutOfRangeJSON {
            writer.key("outOfRange"); writer.rawValue(flags)
        }
        if let commands = device.commandsJSON {
            writer.key("commands"); writer.rawValue(commands)
        }
        writer.endObject()
    }

    static func devices(_ devices: [DeviceSummary]) -> [UInt8] {
        var writer = JSONWriter(capacity: 256 * max(devices.count, 1))
        writer.beginArray()
        for device in devices { self.device(device, into: &writer) }
        writer.endArray()
        return writer.bytes
    }

    static func reading(_ reading: StoredReading, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("epoch"); writer.integer(reading.id.epoch)
        writer.key("seq"); writer.integer(reading.id.sequence)
        writer.key("ts"); writer.integer(reading.timestamp)
        writer.key("values"); writer.rawValue(reading.valuesJSON)
        if let flags = reading.outOfRangeJSON {
            writer.key("outOfRange"); writer.rawValue(flags)
        }
        writer.endObject()
    }

    /// The original readings answer: a bare array.
    static func readings(_ readings: [StoredReading]) -> [UInt8] {
        var writer = JSONWriter(capacity: 128 * max(readings.count, 1))
        writer.beginArray()
        for reading in readings { self.reading(reading, into: &writer) }
        writer.endArray()
        return writer.bytes
    }

    /// A time range's answer, raw (`readings`) or downsampled (`buckets`); `mode` says which.
    static func history(
        device: DeviceSummary, range: HistoryRange, plan: HistoryPlan, readings: [StoredReading], buckets: [HistoryBucket]
    ) -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + 128 * max(readings.count, buckets.count))
        writer.beginObject()
        writer.key("id"); writer.string(device.id)
        writer.key("from"); writer.integer(range.from)
        writer.key("to"); writer.integer(range.to)
        writer.key("units"); writer.rawValue(device.unitsJSON)
        switch plan {
        case .raw:
            writer.key("mode"); writer.string("raw")
            writer.key("readings")
            writer.beginArray()
            for reading in readings { self.reading(reading, into: &writer) }
            writer.endArray()
        case .buckets(let step, let resolution):
            writer.key("mode"); writer.string("buckets")
            writer.key("stepMs"); writer.integer(step)
            writer.key("resolution"); writer.string(resolution.rawValue)
            writer.key("buckets")
            writer.beginArray()
            for bucket in buckets {
                writer.beginObject()
                writer.key("ts"); writer.integer(bucket.timestamp)
                writer.key("values")
                writer.beginObject()
                for (name, cell) in bucket.values {
                    writer.key(name)
                    writer.beginObject()
                    writer.key("min"); writer.float(cell.min)
                    writer.key("max"); writer.float(cell.max)
                    writer.key("mean"); writer.float(cell.mean)
                    writer.key("count"); writer.integer(cell.count)
                    writer.endObject()
                }
                writer.endObject()
                writer.endObject()
            }
            writer.endArray()
        }
        writer.endObject()
        return writer.bytes
    }

    /// A gateway as the API shows it: what the registry knows now (connection, link) and what
    /// storage keeps (its last hello, last seen).
    static func gateway(_ gateway: GatewayView, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id"); writer.string(gateway.id)
        writer.key("online"); writer.bool(gateway.online)
        if let instance = gateway.instance {
            writer.key("instance"); writer.string(instance)
        }
        if let connectedAt = gateway.connectedAt {
            writer.key("connectedAt"); writer.integer(connectedAt)
        }
        if let lastSeen = gateway.lastSeen {
            writer.key("lastSeen"); writer.integer(lastSeen)
        }
        if let stored = gateway.stored {
            writer.key("software"); writer.string(stored.software)
            writer.key("epoch"); writer.integer(stored.epoch)
            if let dropped = stored.dropped {
                writer.key("dropped"); writer.integer(dropped)
            }
        }
        writer.key("devices"); writer.integer(Int64(gateway.devices))
        if let link = gateway.link {
            writer.key("link")
            self.link(link, into: &writer)
        }
        writer.endObject()
    }

    static func link(_ link: LinkReport, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("ts"); writer.integer(link.timestamp)
        if let rtt = link.rttLastMs {
            writer.key("rttLastMs"); writer.integer(rtt)
        }
        if let rtt = link.rttMeanMs {
            writer.key("rttMeanMs"); writer.float(rtt)
        }
        if let rtt = link.rttP99Ms {
            writer.key("rttP99Ms"); writer.integer(rtt)
        }
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
        writer.endObject()
    }

    static func event(_ event: StoredEvent, into writer: inout JSONWriter) {
        writer.beginObject()
        switch event.subject {
        case .device(let device, let id, let profile, let path, let counters):
            writer.key("type"); writer.string("device")
            writer.key("id"); writer.string("\(event.gateway):\(device)")
            writer.key("gateway"); writer.string(event.gateway)
            writer.key("device"); writer.string(device)
            writer.key("event"); writer.string(event.kind)
            writer.key("ts"); writer.integer(event.timestamp)
            if let message = event.message {
                writer.key("message"); writer.string(message)
            }
            writer.key("profile"); writer.string(profile)
            writer.key("path"); writer.string(path)
            writer.key("epoch"); writer.integer(id.epoch)
            writer.key("seq"); writer.integer(id.sequence)
            writer.key("counters"); writer.rawValue(counters)
        case .gateway:
            writer.key("type"); writer.string("gateway")
            writer.key("gateway"); writer.string(event.gateway)
            writer.key("event"); writer.string(event.kind)
            writer.key("ts"); writer.integer(event.timestamp)
            if let message = event.message {
                writer.key("message"); writer.string(message)
            }
        }
        writer.endObject()
    }

    static func command(_ command: CommandRecord, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id"); writer.string(command.id)
        writer.key("device"); writer.string("\(command.gateway):\(command.device)")
        writer.key("name"); writer.string(command.name)
        writer.key("arguments")
        writer.beginObject()
        for (name, value) in command.arguments {
            writer.key(name); writer.float(value)
        }
        writer.endObject()
        writer.key("status"); writer.string(command.status)
        if let message = command.message {
            writer.key("message"); writer.string(message)
        }
        if let response = command.response {
            writer.key("response")
            writer.beginObject()
            writer.key("base64"); writer.string(Base64.encode(response))
            writer.key("hex"); writer.string(hex(response))
            writer.endObject()
        }
        if let code = command.exceptionCode {
            writer.key("exceptionCode"); writer.integer(Int64(code))
        }
        if let user = command.requestedBy {
            writer.key("requestedBy"); writer.string(user)
        }
        writer.key("requestedAt"); writer.integer(command.requestedAt)
        if let finished = command.finishedAt {
            writer.key("finishedAt"); writer.integer(finished)
        }
        writer.endObject()
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// One object built by `body`.
    static func object(_ body: (inout JSONWriter) -> Void) -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        body(&writer)
        return writer.bytes
    }
}
