import Synchronization

/// Fans updates out to every open dashboard. Each subscriber gets a bounded buffer, so a slow
/// browser loses its oldest updates (counted: ``dropped``) instead of growing the server's memory,
/// and receives only the
/// devices it subscribed to (``LiveTopics``); gateway-level updates (online, offline, link health)
/// go to everyone.
public final class LiveFeed: Sendable {
    private struct Subscriber {
        var continuation: AsyncStream<String>.Continuation
        var topics: LiveTopics
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)
    private let droppedUpdates = Atomic<UInt64>(0)

    /// Updates each subscriber may have waiting before its oldest are dropped.
    public static let bufferedUpdates = 1000

    /// Creates a feed with no subscribers.
    public init() {}

    /// A subscription: its updates, and its id for ``subscribe(_:to:)``.
    public struct Subscription: Sendable {
        /// Identifies the subscription.
        public let id: Int
        /// The updates, as JSON text.
        public let updates: AsyncStream<String>
    }

    /// A new subscription, to every device until ``subscribe(_:to:)`` narrows it; it ends when the
    /// returned stream is dropped or ``finishAll()`` runs.
    public func subscribe(topics: LiveTopics = .everything) -> Subscription {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferedUpdates))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = Subscriber(continuation: continuation, topics: topics) }
        return Subscription(id: id, updates: stream)
    }

    /// Replaces what subscription `id` receives.
    public func subscribe(_ id: Int, to topics: LiveTopics) {
        subscribers.withLock { $0[id]?.topics = topics }
    }

    /// Sends one update about `device` (`GATEWAY:DEVICE`) to its subscribers, or a gateway-level
    /// update to everyone when `device` is nil. The message is built only if someone receives it.
    public func publish(device: String?, _ message: @autoclosure () -> String) {
        let targets = subscribers.withLock { subscribers in
            subscribers.values.compactMap { subscriber in
                device.map { subscriber.topics.contains(device: $0) } ?? true ? subscriber.continuation : nil
            }
        }
        guard !targets.isEmpty else { return }
        let text = message()
        for continuation in targets {
            if case .dropped = continuation.yield(text) { droppedUpdates.add(1, ordering: .relaxed) }
        }
    }

    /// Updates dropped so far because a subscriber had ``bufferedUpdates`` waiting already (a
    /// dashboard that stopped reading, or reads slower than updates come).
    public var dropped: UInt64 { droppedUpdates.load(ordering: .relaxed) }

    /// Number of open subscriptions.
    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Ends every subscription (server shutdown).
    public func finishAll() {
        let targets = subscribers.withLock { $0.values.map(\.continuation) }
        for continuation in targets { continuation.finish() }
    }
}

/// The devices a dashboard wants updates for: `*` (all), `GATEWAY:*` (every device of a gateway)
/// or `GATEWAY:DEVICE`.
public struct LiveTopics: Sendable, Hashable {
    private var all: Bool
    private var gateways: Set<Substring>
    private var devices: Set<String>

    /// Every device.
    public static let everything = LiveTopics(["*"])

    /// Parses topic strings; an empty list subscribes to no device.
    public init(_ topics: [String]) {
        all = false
        gateways = []
        devices = []
        for topic in topics {
            if topic == "*" {
                all = true
            } else if topic.hasSuffix(":*") {
                gateways.insert(topic.dropLast(2))
            } else {
                devices.insert(topic)
            }
        }
    }

    /// True when updates about `device` (`GATEWAY:DEVICE`) are wanted.
    public func contains(device: String) -> Bool {
        if all || devices.contains(device) { return true }
        guard !gateways.isEmpty, let colon = device.firstIndex(of: ":") else { return false }
        return gateways.contains(device[..<colon])
    }
}
