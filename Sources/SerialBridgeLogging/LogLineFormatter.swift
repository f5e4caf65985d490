import Logging
import SerialBridgeJSON

/// Turns one log event into the bytes of one line (several for a multi-line message in the
/// journald format), newline included. Pure: the time comes in, so every shape is testable.
///
/// - `text`: `2025-06-01T12:34:56.789+02:00 info serialbridge: opened /dev/ttyUSB0 device=kitchen`
/// - `journald`: `<6>serialbridge: opened /dev/ttyUSB0 device=kitchen` (every line of a multi-line
///   message carries the prefix, since the journal reads each line on its own)
/// - `json`: `{"time":"2025-06-01T10:34:56.789Z","level":"info","label":"serialbridge","message":"opened /dev/ttyUSB0","metadata":{"device":"kitchen"}}`
///
/// Metadata comes sorted by key, so a line's shape does not depend on dictionary order.
public enum LogLineFormatter {
    /// The line for one event.
    public static func line(
        _ format: LogFormat, timestamp: LogTimestamp, level: Logger.Level, label: String, message: String,
        metadata: Logger.Metadata
    ) -> [UInt8] {
        switch format {
        case .text: text(timestamp: timestamp, level: level, label: label, message: message, metadata: metadata)
        case .journald: journald(level: level, label: label, message: message, metadata: metadata)
        case .json: json(timestamp: timestamp, level: level, label: label, message: message, metadata: metadata)
        }
    }

    static func text(timestamp: LogTimestamp, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + message.utf8.count)
        timestamp.appendLocal(to: &bytes)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: level.rawValue.utf8)
        bytes.append(UInt8(ascii: " "))
        appendLabel(label, to: &bytes)
        bytes.append(contentsOf: message.utf8)
        appendPairs(metadata, to: &bytes)
        bytes.append(0x0A)
        return bytes
    }

    static func journald(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + message.utf8.count)
        let prefix: [UInt8] = [UInt8(ascii: "<"), UInt8(ascii: "0") + UInt8(level.syslogPriority), UInt8(ascii: ">")]
        bytes.append(contentsOf: prefix)
        appendLabel(label, to: &bytes)
        for byte in message.utf8 {
            bytes.append(byte)
            if byte == 0x0A { bytes.append(contentsOf: prefix) }
        }
        appendPairs(metadata, to: &bytes)
        bytes.append(0x0A)
        return bytes
    }

    static func json(timestamp: LogTimestamp, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var writer = JSONWriter(capacity: 96 + message.utf8.count)
        writer.beginObject()
        writer.key("time")
        var time: [UInt8] = []
        time.reserveCapacity(24)
        timestamp.appendUTC(to: &time)
        writer.string(String(decoding: time, as: UTF8.self))
        writer.key("level")
        writer.string(level.rawValue)
        writer.key("label")
        writer.string(label)
        writer.key("message")
        writer.string(message)
        if !metadata.isEmpty {
            writer.key("metadata")
            write(.dictionary(metadata), to: &writer)
        }
        writer.endObject()
        var bytes = writer.bytes
        bytes.append(0x0A)
        return bytes
    }

    private static func appendLabel(_ label: String, to bytes: inout [UInt8]) {
        guard !label.isEmpty else { return }
        bytes.append(contentsOf: label.utf8)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(UInt8(ascii: " "))
    }

    /// ` key=value` per entry, sorted by key; values quoted when they hold a space, a quote, an
    /// equals sign or a control character, or are empty.
    private static func appendPairs(_ metadata: Logger.Metadata, to bytes: inout [UInt8]) {
        guard !metadata.isEmpty else { return }
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: key.utf8)
            bytes.append(UInt8(ascii: "="))
            appendValue(plain(value), to: &bytes)
        }
    }

    /// A value as text: lists as `[a, b]`, dictionaries as `[k: v]` (sorted), without the quotes
    /// swift-log's own description puts around nested strings.
    private static func plain(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let items): "[" + items.map(plain).joined(separator: ", ") + "]"
        case .dictionary(let entries):
            "[" + entries.keys.sorted().compactMap { key in entries[key].map { "\(key): \(plain($0))" } }.joined(separator: ", ") + "]"
        }
    }

    private static func appendValue(_ text: String, to bytes: inout [UInt8]) {
        let needsQuotes = text.isEmpty || text.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") || $0 == 0x7F }
        guard needsQuotes else {
            bytes.append(contentsOf: text.utf8)
            return
        }
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0x0A:
                bytes.append(contentsOf: "\\n".utf8)
            case 0x0D:
                bytes.append(contentsOf: "\\r".utf8)
            case 0x09:
                bytes.append(contentsOf: "\\t".utf8)
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func write(_ value: Logger.Metadata.Value, to writer: inout JSONWriter) {
        switch value {
        case .string(let text):
            writer.string(text)
        case .stringConvertible(let convertible):
            writer.string(convertible.description)
        case .array(let items):
            writer.beginArray()
            for item in items { write(item, to: &writer) }
            writer.endArray()
        case .dictionary(let entries):
            writer.beginObject()
            for key in entries.keys.sorted() {
                guard let entry = entries[key] else { continue }
                writer.key(key)
                write(entry, to: &writer)
            }
            writer.endObject()
        }
    }
}
