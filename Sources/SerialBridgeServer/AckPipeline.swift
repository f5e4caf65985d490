import SerialBridgeProtocol
import Synchronization

/// One connection's writes, running ahead of their acknowledgements.
///
/// A connection that waited for each message's commit before reading the next could never send
/// more messages a second than one over the commit's round trip; with hundreds of connections
/// sharing one writer that round trip grows with their number. So the reading side submits each
/// message's write and goes on (up to `limit` writes in flight, then it waits: backpressure),
/// and the acknowledging side takes the writes in the order they were submitted and acknowledges
/// each once it is committed. Acknowledgements stay cumulative and in order: an ack is sent only
/// when its write and every earlier one have finished.
final class AckPipeline: Sendable {
    /// One submitted write: what it acknowledges when done, and when its message arrived.
    struct Write: Sendable {
        let work: Task<ReadingID?, any Error>
        let arrivedAt: UInt64
    }

    /// The writes in submission order, for the acknowledging side.
    let writes: AsyncStream<Write>
    private let queue: AsyncStream<Write>.Continuation
    private let slots: Mutex<(free: Int, waiting: [CheckedContinuation<Void, Never>])>

    /// Creates a pipeline allowing `limit` writes in flight.
    init(limit: Int) {
        (writes, queue) = AsyncStream<Write>.makeStream()
        slots = Mutex((max(1, limit), []))
    }

    /// Submits a write; suspends while `limit` writes are in flight.
    func submit(arrivedAt: UInt64, _ work: @escaping @Sendable () async throws -> ReadingID?) async {
        await withCheckedContinuation { continuation in
            let granted = slots.withLock { slots -> Bool in
                guard slots.free > 0 else {
                    slots.waiting.append(continuation)
                    return false
                }
                slots.free -= 1
                return true
            }
            if granted { continuation.resume() }
        }
        let task = Task {
            defer { self.release() }
            return try await work()
        }
        queue.yield(Write(work: task, arrivedAt: arrivedAt))
    }

    /// No more writes will be submitted.
    func finish() { queue.finish() }

    private func release() {
        let next = slots.withLock { slots -> CheckedContinuation<Void, Never>? in
            guard !slots.waiting.isEmpty else {
                slots.free += 1
                return nil
            }
            // The slot passes straight to the next waiter.
            return slots.waiting.removeFirst()
        }
        next?.resume()
    }
}
