import SerialBridgeProtocol
import SerialBridgeSpool
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

/// The gateway's outgoing readings, shared by device sessions (producers) and the uplink (the
/// one consumer), kept in the durable ``Spool`` until the server acknowledges them.
///
/// Identities are assigned here, under the same lock that appends to the spool, so spool order
/// is sequence order and a cumulative ack forgets a prefix. Frames the spool refuses (full with
/// `rejectNewest`, a write error) give their identities back, so the spool's sequence has no
/// gaps. The sender reads frames back from the spool; a reconnect rewinds it so everything
/// unacknowledged is sent again, oldest first, at full speed or at the spool's
/// `backlogRateLimit`.
public final class OutboundQueue: Sendable {
    /// Counters and marks, for status and metrics.
    public struct Snapshot: Sendable, Hashable {
        /// Frames held (sent or not) awaiting acknowledgement, this run's and earlier runs'.
        public var depth: Int
        /// Frames not yet sent on the current connection.
        public var unsent: Int
        /// Last identity assigned.
        public var lastAssigned: ReadingID
        /// Last identity acknowledged by the server.
        public var acknowledged: ReadingID?
        /// Frames dropped by the spool since it was created (quota, age, write errors).
        public var dropped: UInt64
        /// The committed high-water mark: newest frame known to be on disk.
        public var committed: ReadingID?
    }

    private struct State {
        var nextSequence: Int64 = 1
        var appends: UInt64 = 0
        var waiter: CheckedContinuation<Void, Never>?
    }

    /// This run's epoch.
    public let epoch: Int64
    /// The gateway id stamped on every reading.
    public let gateway: String
    /// Where frames are kept until acknowledged.
    public let spool: Spool
    private let state = Mutex(State())
    private let limiter: Mutex<BacklogRateLimiter?>

    /// Creates the queue of one run over an open spool (which may hold earlier runs' frames,
    /// sent first).
    public init(gateway: String, epoch: Int64, spool: Spool) {
        self.gateway = gateway
        self.epoch = epoch
        self.spool = spool
        limiter = Mutex(spool.configuration.backlogRateLimit.map { BacklogRateLimiter(rate: $0) })
    }

    /// Numbers, encodes and appends readings, then wakes the sender. One lock and one spool
    /// write per batch, not per reading.
    public func enqueue(_ drafts: [ReadingDraft]) {
        guard !drafts.isEmpty else { return }
        append(drafts.count) { id, index in
            let draft = drafts[index]
            return (draft.timestamp, draft.encoder.encode(id: id, timestamp: draft.timestamp, values: draft.values, outOfRange: draft.outOfRange))
        }
    }

    /// Numbers, encodes and appends a device event, in the same sequence as readings. `commands`
    /// (for `attached`) tells the server which commands the device takes.
    public func enqueue(
        device: String, kind: DeviceStateChange.Kind, profile: String, path: String, timestamp: Int64,
        message: String? = nil, counters: [(String, Int64)] = [], commands: [CommandDescription]? = nil
    ) {
        append(1) { id, _ in
            let event = DeviceStateChange(
                gateway: gateway, id: id, device: device, kind: kind, profile: profile, path: path,
                timestamp: timestamp, message: message, counters: counters, commands: commands
            )
            return (timestamp, MessageCodec.encode(.device(event)))
        }
    }

    /// Under one lock: gives `count` frames the next identities, encodes each with `encode` and
    /// appends them to the spool; identities of refused frames are reused. Then wakes the sender.
    private func append(_ count: Int, _ encode: (ReadingID, Int) -> (timestamp: Int64, bytes: [UInt8])) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            var frames: [SpoolFrame] = []
            frames.reserveCapacity(count)
            for index in 0..<count {
                let id = ReadingID(epoch: epoch, sequence: state.nextSequence + Int64(index))
                let (timestamp, bytes) = encode(id, index)
                frames.append(SpoolFrame(id: id, timestamp: timestamp, payload: bytes))
            }
            let taken = spool.append(frames)
            state.nextSequence += Int64(taken)
            guard taken > 0 else { return nil }
            state.appends &+= 1
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Appends so far (``enqueue(_:)`` and event calls that stored at least one frame): how the
    /// sender tells readings that trickle in from readings gathered upstream (``LingerPolicy``).
    public var appends: UInt64 { state.withLock { $0.appends } }

    /// Forgets every frame up to and including `id` (cumulative acknowledgement).
    public func acknowledge(upTo id: ReadingID) {
        spool.acknowledge(upTo: id)
    }

    /// Makes every unacknowledged frame due again, for a new connection.
    public func rewind() {
        spool.rewind()
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }

    /// The next unsent frames (at most `limit`), oldest first, waiting until there is at least
    /// one (and, with a backlog rate limit, until the limit allows). Returns an empty array only
    /// when the calling task is cancelled. One consumer at a time.
    public func nextBatch(limit: Int) async -> [OutboundFrame] {
        while !Task.isCancelled {
            guard let allowed = await allowance(limit) else { return [] }
            let frames = spool.read(limit: allowed)
            limiter.withLock { $0?.giveBack(allowed - frames.count) }
            if !frames.isEmpty { return frames.map { OutboundFrame(id: $0.id, bytes: $0.payload) } }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if spool.hasUnsent || Task.isCancelled { return true }
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

    /// How many frames the rate limit allows now, sleeping until it allows one; nil when cancelled.
    private func allowance(_ limit: Int) async -> Int? {
        while true {
            let grant = limiter.withLock { $0?.grant(limit, now: .now) } ?? .send(limit)
            switch grant {
            case .send(let count):
                return count
            case .waitUntil(let instant):
                do {
                    try await Task.sleep(until: instant, clock: .continuous)
                } catch {
                    return nil
                }
            }
        }
    }

    /// Current depth, marks and counters.
    public var snapshot: Snapshot {
        let status = spool.status
        let unsent = spool.unsent
        let next = state.withLock { $0.nextSequence }
        return Snapshot(
            depth: Int(status.depth), unsent: Int(unsent), lastAssigned: ReadingID(epoch: epoch, sequence: next - 1),
            acknowledged: status.acknowledged, dropped: status.dropped, committed: status.committed
        )
    }

    /// Makes everything appended durable and closes the spool (frames not acknowledged stay for
    /// the next run). Readings enqueued afterwards are dropped and counted.
    public func close() {
        spool.close()
    }
}
