/// Packs outgoing bus messages into NOTIFY payloads: many live updates share one payload (a
/// reading is ~200 bytes, a payload up to ``limit``), and a message too large for any payload is
/// marked to go through the `cluster_messages` table instead. Pure.
enum BusPacker {
    /// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; keep a margin.
    static let limit = 7_900

    /// One payload to send.
    enum Packet: Sendable, Equatable {
        /// Small enough: `pg_notify` it as it is.
        case notify(String)
        /// Too large: store it and notify its row id (``BusMessage/stored(id:)``).
        case store(String)
    }

    /// The payloads carrying `items` in order, each at most `limit` bytes unless it is a single
    /// item too large for any payload (then it is a ``Packet/store(_:)``).
    static func pack(live items: [BusMessage.LiveItem], from: String, limit: Int = limit) -> [Packet] {
        guard !items.isEmpty else { return [] }
        let header = BusMessage.Envelope(from: from, message: .live([])).encoded().utf8.count
        var packets: [Packet] = []
        var batch: [BusMessage.LiveItem] = []
        var size = header
        func flush() {
            guard !batch.isEmpty else { return }
            packets.append(.notify(BusMessage.Envelope(from: from, message: .live(batch)).encoded()))
            batch.removeAll(keepingCapacity: true)
            size = header
        }
        for item in items {
            let itemSize = BusMessage.Envelope.encodedSize(item)
            if header + itemSize > limit {
                flush()
                packets.append(.store(BusMessage.Envelope(from: from, message: .live([item])).encoded()))
                continue
            }
            if size + itemSize > limit { flush() }
            batch.append(item)
            size += itemSize
        }
        flush()
        return packets
    }

    /// The payload of one request or answer.
    static func pack(_ envelope: BusMessage.Envelope, limit: Int = limit) -> Packet {
        let text = envelope.encoded()
        return text.utf8.count <= limit ? .notify(text) : .store(text)
    }
}
