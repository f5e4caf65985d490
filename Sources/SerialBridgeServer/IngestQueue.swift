import SerialBridgeProtocol
import Synchronization

/// What a gateway connection's reader hands to its writer: readings and device events in the
/// order they arrived, at most `capacity` at a time. A full queue suspends the reader, so a
/// gateway replaying a backlog is held back by TCP, not buffered in the server's memory.
///
/// One producer (the reader) and one consumer (the writer).
final class IngestQueue: Sendable {
    /// A message to store.
    enum Item: Sendable {
        case reading(Reading)
        case device(DeviceStateChange)
    }

    private struct State {
        var items: [Item] = []
        var finished = false
        var producer: CheckedContinuation<Void, Never>?
        var consumer: CheckedContinuation<Void, Never>?
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Adds an item, waiting while the queue is full. Dropped once the queue is finished.
    func push(_ item: Item) async {
        while true {
            let (added, consumer) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                if state.finished { return (true, nil) }
                guard state.items.count < capacity else { return (false, nil) }
                state.items.append(item)
                defer { state.consumer = nil }
                return (true, state.consumer)
            }
            consumer?.resume()
            if added { return }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.finished || state.items.count < capacity || Task.isCancelled { return true }
                        state.producer = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                finish()
            }
        }
    }

    /// Everything queued (at least one item), waiting while empty; empty only once finished.
    func takeAll() async -> [Item] {
        while true {
            let (items, producer) = state.withLock { state -> ([Item], CheckedContinuation<Void, Never>?) in
                let items = state.items
                state.items.removeAll(keepingCapacity: true)
                defer { state.producer = nil }
                return (items, items.isEmpty ? nil : state.producer)
            }
            producer?.resume()
            if !items.isEmpty { return items }
            if state.withLock({ $0.finished }) { return [] }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.finished || !state.items.isEmpty || Task.isCancelled { return true }
                        state.consumer = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                finish()
            }
        }
    }

    /// No more items: wakes both sides; later pushes are dropped.
    func finish() {
        let (producer, consumer) = state.withLock { state in
            state.finished = true
            defer {
                state.producer = nil
                state.consumer = nil
            }
            return (state.producer, state.consumer)
        }
        producer?.resume()
        consumer?.resume()
    }
}
