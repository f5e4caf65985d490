import NIOCore
import SerialBridgeUplink

/// Gathers the readings that the device channels of one event loop parse in one turn of the loop
/// and appends them to the outbound queue together, once the turn's reads are done: one lock and
/// one spool write for every device read at a tick, not one each.
final class AppendBatcher {
    private var drafts: [ReadingDraft] = []
    private var queue: OutboundQueue?
    private let loop: any EventLoop

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Adds `batch` for `queue`; it is appended before the loop waits for I/O again.
    func add(_ batch: [ReadingDraft], to queue: OutboundQueue) {
        guard !batch.isEmpty else { return }
        if let pending = self.queue, pending !== queue { flush() }
        if drafts.isEmpty {
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.execute { bound.value.flush() }
        }
        self.queue = queue
        drafts.append(contentsOf: batch)
    }

    /// Appends what is gathered now (a channel that closes flushes before its session reports it).
    func flush() {
        guard let queue, !drafts.isEmpty else { return }
        queue.enqueue(drafts)
        drafts.removeAll(keepingCapacity: true)
    }

    /// The batcher of `loop`; call on that loop.
    static func on(_ loop: any EventLoop) -> AppendBatcher {
        batchers.on(loop)
    }

    private static let batchers = PerLoop { AppendBatcher(loop: $0) }
}
