import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeSystemd
import Synchronization

/// Every device's counters, for the metrics endpoint and status: each running session publishes
/// its counters to a slot of its own (a streaming session once per read, a polled line once per
/// scheduler pass — batches, never per reading), and a scrape sums the slots by device id.
///
/// Counters of a device survive its sessions: a stopped session's last counters are kept and added
/// to those of the device's next session, so they only grow while the gateway runs.
public final class DeviceCounterBoard: Sendable {
    /// A device's counters. Streaming devices count bytes, frames and framing; polled devices count
    /// requests and answers; both count readings and integrity, decoding and range errors.
    public struct Counts: Sendable, Hashable {
        /// Whether the device is polled (requests, answers…) rather than streaming.
        public var polled = false
        /// Whether a session has the device's port open right now.
        public var open = false
        /// Bytes read from the port (streaming).
        public var bytes: UInt64 = 0
        /// Frames cut from those bytes (streaming).
        public var frames: UInt64 = 0
        /// Readings produced.
        public var readings: UInt64 = 0
        /// Frames that failed the integrity check.
        public var checksumErrors: UInt64 = 0
        /// Frames that failed to decode.
        public var decodeErrors: UInt64 = 0
        /// Byte runs the framer rejected (streaming).
        public var framingErrors: UInt64 = 0
        /// Values outside their valid range.
        public var outOfRange: UInt64 = 0
        /// Times the framer lost sync (streaming).
        public var resyncs: UInt64 = 0
        /// Times the port was reopened after the device went away (streaming).
        public var reopens: UInt64 = 0
        /// Requests written: polls, retries and commands (polled).
        public var requests: UInt64 = 0
        /// Answers accepted (polled).
        public var answers: UInt64 = 0
        /// Requests that got no answer in time (polled).
        public var timeouts: UInt64 = 0
        /// Attempts repeated after a timeout or a bad answer (polled).
        public var retries: UInt64 = 0
        /// Modbus exception answers (polled).
        public var exceptions: UInt64 = 0
        /// Poll cycles that ended without a reading (polled).
        public var failedCycles: UInt64 = 0

        /// Zero counters.
        public init() {}

        /// A streaming session's counters: its earlier connections plus the current one.
        init(totals: SessionTotals, current: ParserCounters, open: Bool) {
            self.open = open
            bytes = totals.counters.framer.bytes &+ current.framer.bytes
            frames = totals.counters.framer.frames &+ current.framer.frames
            readings = totals.counters.readings &+ current.readings
            checksumErrors = totals.counters.checksumErrors &+ current.checksumErrors
            decodeErrors = totals.counters.decodeErrors &+ current.decodeErrors
            framingErrors = totals.counters.framingErrors &+ current.framingErrors
            outOfRange = totals.counters.outOfRange &+ current.outOfRange
            resyncs = totals.counters.framer.resyncs &+ current.framer.resyncs
            reopens = UInt64(clamping: totals.reopens)
        }

        /// A polled device's counters.
        init(poll: PollCounters, open: Bool) {
            polled = true
            self.open = open
            readings = poll.parsing.readings
            checksumErrors = poll.parsing.checksumErrors
            decodeErrors = poll.parsing.decodeErrors
            outOfRange = poll.parsing.outOfRange
            requests = poll.requests
            answers = poll.answers
            timeouts = poll.timeouts
            retries = poll.retries
            exceptions = poll.exceptions
            failedCycles = poll.failedCycles
        }

        /// The sum of two sessions' counters (open if either is).
        func adding(_ other: Counts) -> Counts {
            var sum = self
            sum.polled = polled || other.polled
            sum.open = open || other.open
            sum.bytes &+= other.bytes
            sum.frames &+= other.frames
            sum.readings &+= other.readings
            sum.checksumErrors &+= other.checksumErrors
            sum.decodeErrors &+= other.decodeErrors
            sum.framingErrors &+= other.framingErrors
            sum.outOfRange &+= other.outOfRange
            sum.resyncs &+= other.resyncs
            sum.reopens &+= other.reopens
            sum.requests &+= other.requests
            sum.answers &+= other.answers
            sum.timeouts &+= other.timeouts
            sum.retries &+= other.retries
            sum.exceptions &+= other.exceptions
            sum.failedCycles &+= other.failedCycles
            return sum
        }
    }

    /// One session's counters for one device; the session publishes, the board reads.
    ///
    /// The slot also tells the watchdog whether the session is stuck: a session marks the start
    /// of each step (a read buffer, a tick, a command) with ``entering(at:)`` — one relaxed
    /// atomic store — and ``publish(_:)``, which ends every step anyway, marks it finished under
    /// the lock it already takes. A step entered and not finished is visible in ``pendingStep``.
    public final class Slot: Sendable {
        /// The device id.
        public let device: String
        fileprivate let counts = Mutex((counts: Counts(), finished: UInt64(0)))
        private let entered = Atomic<UInt64>(0)
        /// Test seam: awaited by a streaming session after it enters a step (nil in production).
        let stall: (@Sendable (String) async -> Void)?

        fileprivate init(device: String, stall: (@Sendable (String) async -> Void)?) {
            self.device = device
            self.stall = stall
        }

        /// Replaces the published counters (one uncontended lock); ends the current step.
        public func publish(_ counts: Counts) {
            let entered = self.entered.load(ordering: .relaxed)
            self.counts.withLock { $0 = (counts, entered) }
        }

        /// The session begins a step at `monotonic` (nanoseconds, nonzero, increasing).
        public func entering(at monotonic: UInt64) {
            entered.store(monotonic, ordering: .relaxed)
        }

        /// The start of the step the session is in, nil when it is between steps.
        public var pendingStep: UInt64? {
            counts.withLock { published in
                let entered = self.entered.load(ordering: .relaxed)
                return entered == published.finished ? nil : entered
            }
        }
    }

    private struct State {
        var live: [ObjectIdentifier: Slot] = [:]
        var stall: (@Sendable (String) async -> Void)?
        /// Finished sessions' counters by device, with `open` false.
        var retired: [String: Counts] = [:]
    }

    private let state = Mutex(State())

    /// Creates an empty board.
    public init() {}

    /// A slot for a session of `device` starting now; give it back with ``close(_:)``.
    public func open(device: String) -> Slot {
        state.withLock {
            let slot = Slot(device: device, stall: $0.stall)
            $0.live[ObjectIdentifier(slot)] = slot
            // The device is listed from the start, with zero counters if it is new.
            if $0.retired[device] == nil { $0.retired[device] = Counts() }
            return slot
        }
    }

    /// The session of `slot` ended: its counters are kept under its device id.
    public func close(_ slot: Slot) {
        var last = slot.counts.withLock { $0.counts }
        last.open = false
        state.withLock { state in
            state.live.removeValue(forKey: ObjectIdentifier(slot))
            state.retired[slot.device] = (state.retired[slot.device] ?? Counts()).adding(last)
        }
    }

    /// Every device's counters right now, by device id.
    public var snapshot: [String: Counts] {
        state.withLock { state in
            var result = state.retired
            for slot in state.live.values {
                let counts = slot.counts.withLock { $0.counts }
                result[slot.device] = (result[slot.device] ?? Counts()).adding(counts)
            }
            return result
        }
    }

    /// The watchdog's view: one sample per running session ("device ID"), pending with the start
    /// of its current step while it is inside one.
    public func stepSamples() -> [StallDetector.Sample] {
        let slots = state.withLock { Array($0.live.values) }
        return slots.map { StallDetector.Sample(part: "device \($0.device)", pending: $0.pendingStep) }
    }

    /// Test seam: sessions whose slots open from now on await `stall` after entering each step.
    func setStall(_ stall: (@Sendable (String) async -> Void)?) {
        state.withLock { $0.stall = stall }
    }
}
