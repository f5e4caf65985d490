import SerialBridgeProtocol
import Synchronization

/// A reading made by a device session, before it has an identity.
public struct ReadingDraft: Sendable {
    /// The device's encoder (names, units, gateway, device and profile).
    public var encoder: ReadingEncoder
    /// Milliseconds since 1970 UTC.
    public var timestamp: Int64
    /// Values aligned with the encoder's fields; nil where the frame carried none.
    public var values: [WireValue?]
    /// Names of values outside their valid range.
    public var outOfRange: [String]

    /// Creates a draft.
    public init(encoder: ReadingEncoder, timestamp: Int64, values: [WireValue?], outOfRange: [String] = []) {
        self.encoder = encoder
        self.timestamp = timestamp
        self.values = values
        self.outOfRange = outOfRange
    }
}

/// An encoded message waiting for the server's acknowledgement.
public struct OutboundFrame: Sendable {
    /// The reading's identity.
    public var id: ReadingID
    /// The encoded `reading` message.
    public var bytes: [UInt8]
}

/// The gateway's unacknowledged readings, in identity order, shared by device sessions (producers)
/// and the uplink (the one consumer).
///
/// Identities are assigned here, under the same lock that appends, so queue order is sequence
/// order and a cumulative ack can drop a prefix. Frames stay until acknowledged; a reconnect
/// rewinds the send cursor so everything unacknowledged is sent again, oldest first.
///
/// This queue is in memory: a crash loses what it holds (the durable spool replaces it).
public final class OutboundQueue: Sendable {
    /// Counters and marks, for status and metrics.
    public struct Snapshot: Sendable, Hashable {
        /// Frames held (sent or not) awaiting acknowledgement.
        public var depth: Int
        /// Frames not yet sent on the current connection.
        public var unsent: Int
        /// Last identity assigned.
        public var lastAssigned: ReadingID
        /// Last identity acknowledged by the server.
        public var acknowledged: ReadingID?
        /// Frames dropped because the queue was full.
        public var dropped: UInt64
    }

    private struct State {
        var frames: [OutboundFrame] = []
        var head = 0
        var cursor = 0
        var nextSequence: Int64 = 1
        var acknowledged: ReadingID?
        var dropped: UInt64 = 0
        var waiter: CheckedContinuation<Void, Never>?

        var depth: Int { frames.count - head }
        var hasUnsent: Bool { cursor < frames.count }

        mutating func compact() {
            guard head > 4096, head * 2 > frames.count else { return }
            frames.removeFirst(head)
            cursor -= head
            head = 0
        }
    }

    /// This run's epoch.
    public let epoch: Int64
    /// The gateway id stamped on every reading.
    public let gateway: String
    /// Most frames held; past it the oldest is dropped and counted.
    public let capacity: Int
    private let state = Mutex(State())

    /// Creates an empty queue for one run.
    public init(gateway: String, epoch: Int64, capacity: Int = 1_000_000) {
        self.gateway = gateway
        self.epoch = epoch
        self.capacity = max(1, capacity)
    }

    /// Numbers, encodes and appends readings, then wakes the sender. One lock per batch, not per reading.
    public func enqueue(_ drafts: [ReadingDraft]) {
        guard !drafts.isEmpty else { return }
        append(drafts.count) { id, index in
            let draft = drafts[index]
            return draft.encoder.encode(id: id, timestamp: draft.timestamp, values: draft.values, outOfRange: draft.outOfRange)
        }
    }

    /// Numbers, encodes and appends a device event, in the same sequence as readings.
    public func enqueue(
        device: String, kind: DeviceStateChange.Kind, profile: String, path: String, timestamp: Int64,
        message: String? = nil, counters: [(String, Int64)] = []
    ) {
        append(1) { id, _ in
            let event = DeviceStateChange(
                gateway: gateway, id: id, device: device, kind: kind, profile: profile, path: path,
                timestamp: timestamp, message: message, counters: counters
            )
            return MessageCodec.encode(.device(event))
        }
    }

    /// Under one lock: gives `count` frames the next identities, encodes each with `encode`,
    /// drops (and counts) the oldest past capacity; then wakes the sender.
    private func append(_ count: Int, _ encode: (ReadingID, Int) -> [UInt8]) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            for index in 0..<count {
                let id = ReadingID(epoch: epoch, sequence: state.nextSequence)
                state.nextSequence += 1
                state.frames.append(OutboundFrame(id: id, bytes: encode(id, index)))
                if state.depth > capacity {
                    state.head += 1
                    state.cursor = max(state.cursor, state.head)
                    state.dropped += 1
                }
            }
            state.compact()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Drops every frame up to and including `id` (cumulative acknowledgement).
    public func acknowledge(upTo id: ReadingID) {
        state.withLock { state in
            while state.head < state.frames.count, state.frames[state.head].id <= id {
                state.head += 1
            }
            state.cursor = max(state.cursor, state.head)
            if state.acknowledged.map({ $0 < id }) ?? true { state.acknowledged = id }
            state.compact()
        }
    }

    /// Makes every unacknowledged frame due again, for a new connection.
    public func rewind() {
        state.withLock { $0.cursor = $0.head }
    }

    /// The next unsent frames (at most `limit`), waiting until there is at least one.
    /// Returns an empty array only when the calling task is cancelled.
    public func nextBatch(limit: Int) async -> [OutboundFrame] {
        while !Task.isCancelled {
            let batch = state.withLock { state -> [OutboundFrame] in
                let end = min(state.frames.count, state.cursor + limit)
                let batch = Array(state.frames[state.cursor..<end])
                state.cursor = end
                return batch
            }
            if !batch.isEmpty { return batch }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.hasUnsent || Task.isCancelled { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
        }
        return []
    }

    /// Current depth, marks and counters.
    public var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(
                depth: state.depth, unsent: state.frames.count - state.cursor,
                lastAssigned: ReadingID(epoch: epoch, sequence: state.nextSequence - 1),
                acknowledged: state.acknowledged, dropped: state.dropped
            )
        }
    }
}
