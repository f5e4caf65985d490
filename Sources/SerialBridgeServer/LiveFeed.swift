import Synchronization

/// Fans new readings out to every open dashboard. Each subscriber gets a bounded buffer, so a
/// slow browser loses its oldest updates instead of growing the server's memory.
public final class LiveFeed: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<String>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)

    /// Creates a feed with no subscribers.
    public init() {}

    /// A new subscription; it ends when the returned stream is dropped or ``finishAll()`` runs.
    public func subscribe() -> AsyncStream<String> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    /// Sends one message to every subscriber.
    public func publish(_ message: String) {
        let targets = subscribers.withLock { Array($0.values) }
        for continuation in targets { continuation.yield(message) }
    }

    /// Number of open subscriptions.
    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Ends every subscription (server shutdown).
    public func finishAll() {
        let targets = subscribers.withLock { Array($0.values) }
        for continuation in targets { continuation.finish() }
    }
}
