import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeProtocol

/// `serialbridge profiles test`: replays captured bytes through a profile and renders each
/// reading as `{"values": {...}, "units": {...}}` and each rejected frame as
/// `{"error": "...", "stage": "...", "offset": N}`, one JSON object per line.
public enum ProfileReplay {
    /// Replays `records` in order (their times drive time-based framers), then ends the capture
    /// with a long silence so a last silence-gap frame comes out. Returns the parser's counters.
    public static func replay(
        _ records: [CaptureFormat.Record], spec: ParsingSpec, line: (_ json: [UInt8]) -> Void
    ) -> ParserCounters {
        var parser = DeviceParser(spec: spec)
        let fields = parser.outputFields
        return withoutActuallyEscaping(line) { line in
            let onReading: (ParsedReading) -> Void = { line(render($0, fields: fields)) }
            let onRejection: (Rejection) -> Void = { line(render($0)) }
            for record in records {
            parser.flush(at: record.time, onReading: onReading, onRejection: onRejection)
            record.bytes.withUnsafeBytes { chunk in
                parser.feed(chunk, at: record.time, onReading: onReading, onRejection: onRejection)
            }
        }
            parser.flush(at: (records.last?.time ?? 0) &+ 3_600_000_000_000, onReading: onReading, onRejection: onRejection)
            return parser.counters
        }
    }

    static func render(_ reading: ParsedReading, fields: [OutputField]) -> [UInt8] {
        let named = zip(fields, reading.values).compactMap { field, value in
            value.map { NamedValue(name: field.name, value: WireValue($0), unit: field.unit) }
        }
        var writer = JSONWriter()
        writer.beginObject()
        MessageCodec.writeValues(named, outOfRange: reading.outOfRange, into: &writer)
        writer.endObject()
        return writer.bytes
    }

    static func render(_ rejection: Rejection) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("error"); writer.string(rejection.message)
        writer.key("stage"); writer.string(rejection.stage.rawValue)
        writer.key("offset"); writer.integer(Int64(clamping: rejection.offset))
        writer.endObject()
        return writer.bytes
    }
}
