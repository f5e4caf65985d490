import SerialBridgeJSON
import SerialBridgeProtocol

/// What the spool remembers across runs besides its segments, in `marks.json`: the newest
/// identity the server acknowledged, and how many frames the spool has ever dropped.
///
/// Written lazily (about once a second, and at shutdown): after a crash the acknowledged mark may
/// be a little behind, so a few frames are sent again, and the server ignores them.
struct SpoolMarks: Sendable, Hashable {
    var acknowledged: ReadingID?
    var dropped: UInt64 = 0

    static let fileName = "marks.json"

    var json: [UInt8] {
        var writer = JSONWriter(capacity: 80)
        writer.beginObject()
        writer.key("acked")
        SpoolMarks.write(acknowledged, into: &writer)
        writer.key("dropped"); writer.integer(Int64(clamping: dropped))
        writer.endObject()
        writer.raw([0x0A])
        return writer.bytes
    }

    /// Reads the marks; a missing file gives empty marks, a damaged one an error to log.
    static func read(directory: String) -> Result<SpoolMarks, SpoolError> {
        let path = directory + "/" + fileName
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(path, limit: 4096)
        } catch {
            if Posix.exists(path) { return .failure(.damagedMarks(path: path, reason: error.description)) }
            return .success(SpoolMarks())
        }
        guard let node = try? JSONParser.parse(bytes) else {
            return .failure(.damagedMarks(path: path, reason: "not JSON"))
        }
        var marks = SpoolMarks()
        if case .integer(let dropped)? = node["dropped"], dropped >= 0 { marks.dropped = UInt64(dropped) }
        marks.acknowledged = identity(node["acked"])
        return .success(marks)
    }

    func write(directory: String) -> Int32 {
        Posix.replaceFile(directory + "/" + Self.fileName, contents: json, durable: true)
    }

    /// `{"epoch":E,"seq":S}` or `null`.
    static func write(_ id: ReadingID?, into writer: inout JSONWriter) {
        guard let id else { return writer.null() }
        writer.beginObject()
        writer.key("epoch"); writer.integer(id.epoch)
        writer.key("seq"); writer.integer(id.sequence)
        writer.endObject()
    }

    /// The identity in `{"epoch":E,"seq":S}`, nil for anything else.
    static func identity(_ node: JSONNode?) -> ReadingID? {
        guard case .integer(let epoch)? = node?["epoch"], case .integer(let sequence)? = node?["seq"] else { return nil }
        return ReadingID(epoch: epoch, sequence: sequence)
    }
}
