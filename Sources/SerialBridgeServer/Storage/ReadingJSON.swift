import SerialBridgeJSON
import SerialBridgeProtocol

/// JSON renderings of reading parts, shared by storage, API and live feed.
enum ReadingJSON {
    /// A JSON array of names, or nil for none.
    static func names(_ names: [String]) -> String? {
        guard !names.isEmpty else { return nil }
        var writer = JSONWriter(capacity: 32)
        writer.beginArray()
        for name in names { writer.string(name) }
        writer.endArray()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func values(_ values: [NamedValue]) -> String {
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        for named in values {
            writer.key(named.name)
            MessageCodec.writeValue(named.value, into: &writer)
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func units(_ values: [NamedValue]) -> String {
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        for named in values {
            if let unit = named.unit {
                writer.key(named.name)
                writer.string(unit)
            }
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
