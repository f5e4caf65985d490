import NIOCore
import SerialBridgeUplink

/// Gathers the readings that the device channels of one event loop parse in one turn of the loop
/// and appends them to the outbound queue together, once the turn's reads are done: one lock and
/// one spool write for every device read at a tick, not one each.
final class AppendBatcher {
    private var readings = ReadingBatch()
    private var queue: OutboundQueue?
    private let loop: any EventLoop

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Takes `batch` for `queue`, leaving it empty (with storage); it is appended before the
    /// loop waits for I/O again.
    func add(_ batch: inout ReadingBatch, to queue: OutboundQueue) {
        guard !batch.isEmpty else { return }
        if let pending = self.queue, pending !== queue { flush() }
        self.queue = queue
        if readings.isEmpty {
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.execute { bound.value.flush() }
            // The first device of the turn hands over its buffer and takes the batcher's empty one.
            swap(&readings, &batch)
        } else {
            readings.append(contentsOf: batch)
            batch.removeAll()
        }
    }

    /// Appends what is gathered now (a channel that closes flushes before its session reports it).
    func flush() {
        guard let queue, !readings.isEmpty else { return }
        queue.enqueue(readings)
        readings.removeAll()
    }

    /// The batcher of `loop`; call on that loop.
    static func on(_ loop: any EventLoop) -> AppendBatcher {
        batchers.on(loop)
    }

    private static let batchers = PerLoop { AppendBatcher(loop: $0) }
}
