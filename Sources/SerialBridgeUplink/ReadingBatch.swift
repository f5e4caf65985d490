import SerialBridgeProtocol
import SerialBridgeSpool

/// Readings made by device sessions, encoded but not yet numbered: each reading's message body
/// (everything after its identity, ``ReadingEncoder/writeBody(timestamp:count:outOfRange:into:value:)``)
/// laid end to end in one buffer. The outbound queue numbers them and writes identity and body
/// into the spool: no array per reading on the way.
public struct ReadingBatch: Sendable {
    /// Plain data, so that batches are joined and emptied without touching reference counts.
    struct Entry: Sendable {
        /// The index of the reading's encoder in ``ReadingBatch/encoders``.
        let encoder: Int
        let timestamp: Int64
        /// Where the body ends in ``ReadingBatch/bodies``; it starts where the previous one ends.
        let end: Int
    }

    private(set) var bodies: [UInt8] = []
    private(set) var entries: [Entry] = []
    /// The encoders of the readings, each once per run of readings of one device.
    private(set) var encoders: [ReadingEncoder] = []

    /// An empty batch.
    public init() {}

    /// Readings in the batch.
    public var count: Int { entries.count }

    /// Whether the batch holds no reading.
    public var isEmpty: Bool { entries.isEmpty }

    /// Adds a reading of `encoder`'s device: `value(i)` is field `i`'s value for `i` in
    /// `0..<count` (nil: not carried this time); it may be asked more than once for a field.
    public mutating func append(
        encoder: ReadingEncoder, timestamp: Int64, count: Int, outOfRange: [String] = [], value: (Int) -> WireValue?
    ) {
        encoder.writeBody(timestamp: timestamp, count: count, outOfRange: outOfRange, into: &bodies, value: value)
        if encoders.last !== encoder { encoders.append(encoder) }
        entries.append(Entry(encoder: encoders.count - 1, timestamp: timestamp, end: bodies.count))
    }

    /// Adds a reading whose values are aligned with the encoder's fields.
    public mutating func append(encoder: ReadingEncoder, timestamp: Int64, values: [WireValue?], outOfRange: [String] = []) {
        append(encoder: encoder, timestamp: timestamp, count: values.count, outOfRange: outOfRange) { values[$0] }
    }

    /// Adds every reading of `other`, after this batch's.
    public mutating func append(contentsOf other: ReadingBatch) {
        let shift = bodies.count
        let encoderShift = encoders.count
        bodies.append(contentsOf: other.bodies)
        encoders.append(contentsOf: other.encoders)
        entries.append(contentsOf: other.entries.lazy.map {
            Entry(encoder: $0.encoder + encoderShift, timestamp: $0.timestamp, end: $0.end + shift)
        })
    }

    /// Appends reading `index` to `frames` as a whole message with the identity `id`.
    public func write(_ index: Int, id: ReadingID, into frames: inout SpoolFrames) {
        let entry = entries[index]
        let start = index == 0 ? 0 : entries[index - 1].end
        frames.append(id: id, timestamp: entry.timestamp) { bytes in
            encoders[entry.encoder].writeIdentity(id, into: &bytes)
            bodies.withUnsafeBufferPointer { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[start..<entry.end])) }
        }
    }

    /// Empties the batch, keeping its storage for the next one (unless a burst made it large).
    public mutating func removeAll() {
        guard bodies.capacity <= SpoolFrames.keptCapacity else {
            self = ReadingBatch()
            return
        }
        bodies.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        encoders.removeAll(keepingCapacity: true)
    }
}
