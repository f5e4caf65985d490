import SerialBridgeProtocol
import SerialBridgeSpool
import Synchronization

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
        /// The batch being appended, kept for its storage.
        var frames = SpoolFrames()
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

    /// Numbers readings and appends them, then wakes the sender. One lock and one spool write per
    /// batch, not per reading.
    public func enqueue(_ readings: ReadingBatch) {
        guard !readings.isEmpty else { return }
        append(readings.count) { id, index, frames in
            readings.write(index, id: id, into: &frames)
        }
    }

    /// Numbers, encodes and appends a device event, in the same sequence as readings. `commands`
    /// (for `attached`) tells the server which commands the device takes.
    public func enqueue(
        device: String, kind: DeviceStateChange.Kind, profile: String, path: String, timestamp: Int64,
        message: String? = nil, counters: [(String, Int64)] = [], commands: [CommandDescription]? = nil
    ) {
        append(1) { id, _, frames in
            let event = DeviceStateChange(
                gateway: gateway, id: id, device: device, kind: kind, profile: profile, path: path,
                timestamp: timestamp, message: message, counters: counters, commands: commands
            )
            frames.append(id: id, timestamp: timestamp) { $0.append(contentsOf: MessageCodec.encode(.device(event))) }
        }
    }

    /// Under one lock: gives `count` frames the next identities, has `encode` add frame `i` with
    /// its identity to the batch, and appends the batch to the spool; identities of refused frames
    /// are reused. Then wakes the sender.
    private func append(_ count: Int, _ encode: (ReadingID, Int, inout SpoolFrames) -> Void) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            var frames = SpoolFrames()
            swap(&frames, &state.frames)
            defer {
                frames.removeAll()
                swap(&frames, &state.frames)
            }
            for index in 0..<count {
                encode(ReadingID(epoch: epoch, sequence: state.nextSequence + Int64(index)), index, &frames)
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
    /// one (and, with a backlog rate limit, until the limit allows). Returns an empty batch only
    /// when the calling task is cancelled. One consumer at a time.
    public func nextBatch(limit: Int) async -> SpoolFrames {
        while !Task.isCancelled {
            guard let allowed = await allowance(limit) else { return SpoolFrames() }
            let frames = spool.read(limit: allowed)
            limiter.withLock { $0?.giveBack(allowed - frames.count) }
            if !frames.isEmpty { return frames }
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
        return SpoolFrames()
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
