import SerialBridgeParsing

/// One device on a bus as the scheduler sees it: what to send each cycle, how to read the
/// answers, how often, and its commands.
public struct PolledDevice: Sendable {
    /// How answers become readings.
    public enum Reader: Sendable {
        /// One request; its answer goes through the profile's integrity check and decoder, and must
        /// start with `prefix` when one is set.
        case frames(FrameInterpreter, prefix: [UInt8]?)
        /// Modbus reads: one request per block; the words of all blocks make one reading.
        case modbus(ModbusReadPlan, unit: UInt8)
    }

    /// The device id, for logs.
    public var name: String
    /// Requests of one cycle, in order (empty: the device is never polled, only commanded).
    public var requests: [[UInt8]]
    /// How answers are read.
    public var reader: Reader
    /// Nanoseconds between cycles.
    public var interval: UInt64
    /// Nanoseconds to wait for each answer.
    public var timeout: UInt64
    /// Extra attempts per request while the device answers.
    public var retries: Int
    /// Longest nanoseconds between cycles of a device that stopped answering.
    public var maxBackoff: UInt64
    /// Quiet nanoseconds after an answer before the next request on the bus.
    public var turnaround: UInt64

    /// A polled device with a generic request.
    public init(name: String, polling: PollingSpec, interpreter: FrameInterpreter) {
        let requests = polling.request.map { [$0.render { _ in 0 }] } ?? []
        self.init(name: name, polling: polling, requests: requests, reader: .frames(interpreter, prefix: polling.responsePrefix))
    }

    /// A Modbus device at `unit`.
    public init(name: String, polling: PollingSpec, modbus: ModbusSpec, unit: UInt8) {
        self.init(name: name, polling: polling, requests: modbus.plan.requests(unit: unit), reader: .modbus(modbus.plan, unit: unit))
    }

    private init(name: String, polling: PollingSpec, requests: [[UInt8]], reader: Reader) {
        self.name = name
        self.requests = requests
        self.reader = reader
        self.interval = Self.nanoseconds(polling.interval)
        self.timeout = Self.nanoseconds(polling.timeout)
        self.retries = polling.retries
        self.maxBackoff = Self.nanoseconds(polling.maxBackoff)
        self.turnaround = Self.nanoseconds(polling.turnaround)
    }

    /// The values of every reading, in order.
    public var outputFields: [OutputField] {
        switch reader {
        case .frames(let interpreter, _): interpreter.outputFields
        case .modbus(let plan, _): plan.outputFields
        }
    }

    /// Modbus unit id, if this is a Modbus device.
    public var unit: UInt8? {
        if case .modbus(_, let unit) = reader { return unit }
        return nil
    }

    /// A duration in whole nanoseconds (negative: 0).
    public static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}

/// What a device's polling has seen.
public struct PollCounters: Sendable, Hashable {
    /// Requests written (polls, retries and commands).
    public var requests: UInt64 = 0
    /// Answers accepted.
    public var answers: UInt64 = 0
    /// Requests that got no answer in time.
    public var timeouts: UInt64 = 0
    /// Attempts repeated after a timeout or a bad answer.
    public var retries: UInt64 = 0
    /// Modbus exception answers.
    public var exceptions: UInt64 = 0
    /// Cycles that ended without a reading.
    public var failedCycles: UInt64 = 0
    /// Integrity, decoding and reading counters of the answers.
    public var parsing = ParserCounters()

    /// Zero counters.
    public init() {}
}
