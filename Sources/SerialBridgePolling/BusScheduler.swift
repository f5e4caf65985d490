import SerialBridgeParsing

/// Decides what goes on one serial line shared by polled devices: a pure value that takes frames,
/// commands and the current time (monotonic nanoseconds) and says which request to write next.
/// The session around it only does the I/O, so the timing rules are tested with explicit instants.
///
/// Rules:
/// - One request at a time; commands go before polls.
/// - Each device is due every `interval`. Among due devices the one waiting longest goes first,
///   and a retry waits its turn like any other request: a device that stops answering holds the
///   line for one `timeout` at a time, never for all its retries in a row.
/// - A cycle that fails (every attempt timed out or was corrupted) marks the device not responding
///   and backs it off (2×, 4×, … the interval, up to `maxBackoff`), one attempt per cycle, until it
///   answers again.
/// - A Modbus exception is an answer: the device is alive, the cycle fails, the device stays on
///   its schedule.
public struct BusScheduler: Sendable {
    /// A command waiting for the line.
    public struct Command: Sendable {
        /// Caller's id, echoed in the outcome.
        public var id: UInt64
        /// Index of the device in the scheduler.
        public var device: Int
        /// Bytes to write.
        public var bytes: [UInt8]
        /// How the answer is recognised.
        public var response: CommandSpec.Response
        /// Nanoseconds to wait for the answer.
        public var timeout: UInt64
        /// Extra attempts after a timeout.
        public var retries: Int

        /// Creates a command.
        public init(id: UInt64, device: Int, bytes: [UInt8], response: CommandSpec.Response, timeout: UInt64, retries: Int) {
            self.id = id
            self.device = device
            self.bytes = bytes
            self.response = response
            self.timeout = timeout
            self.retries = retries
        }
    }

    /// How a command ended.
    public enum CommandOutcome: Sendable, Hashable {
        /// The device answered with this frame.
        case answered([UInt8])
        /// Written; no answer was expected.
        case sent
        /// The Modbus device answered with an exception.
        case exception(code: UInt8, name: String)
        /// No answer after this many attempts.
        case timedOut(attempts: Int)
        /// Not sent, and why.
        case failed(String)
    }

    /// What the session must act on.
    public enum Output: Sendable {
        /// A device's reading.
        case reading(device: Int, ParsedReading)
        /// A device stopped (false) or resumed (true) answering.
        case responding(device: Int, Bool, message: String)
        /// An answer was refused (checksum, decoding, Modbus exception).
        case rejected(device: Int, Rejection)
        /// A command ended.
        case commandFinished(id: UInt64, CommandOutcome)
    }

    private enum Expectation: Sendable {
        case any
        case prefix([UInt8])
        case modbus(unit: UInt8, function: UInt8)
    }

    private enum Job: Sendable {
        case poll(device: Int)
        case command(Command)
    }

    private struct Transaction: Sendable {
        var job: Job
        var device: Int
        var deadline: UInt64
        var expectation: Expectation
        var attempt: Int
    }

    private struct DeviceState: Sendable {
        var readyAt: UInt64
        var cycleDue: UInt64
        var inCycle = false
        var step = 0
        var attempt = 0
        var words: [[UInt16]] = []
        var failures = 0
        var responding = true
        var counters = PollCounters()
    }

    /// The devices on the line.
    public let devices: [PolledDevice]
    private var states: [DeviceState]
    private var commands: [(command: Command, attempt: Int)] = []
    private var outstanding: Transaction?
    private var quietUntil: UInt64 = 0
    private var outputs: [Output] = []
    /// Frames that arrived while no request was outstanding, or that answered another request.
    public private(set) var unexpectedFrames: UInt64 = 0

    /// Creates a scheduler whose devices are all due at `now`.
    public init(devices: [PolledDevice], now: UInt64) {
        self.devices = devices
        states = devices.map { _ in DeviceState(readyAt: now, cycleDue: now) }
    }

    /// A device's counters.
    public func counters(of device: Int) -> PollCounters { states[device].counters }

    /// Whether a device answered its last cycle.
    public func isResponding(_ device: Int) -> Bool { states[device].responding }

    /// True while a request waits for its answer.
    public var isWaiting: Bool { outstanding != nil }

    /// Queues a command; it goes before any poll.
    public mutating func enqueue(_ command: Command) {
        commands.append((command, 0))
    }

    /// Forgets the request in flight and every queued command (the port closed); their callers
    /// learn why. Devices keep their schedules and counters.
    public mutating func abandon(reason: String) {
        if let transaction = outstanding, case .command(let command) = transaction.job {
            outputs.append(.commandFinished(id: command.id, .failed(reason)))
        }
        if let transaction = outstanding, case .poll(let device) = transaction.job {
            states[device].inCycle = false
        }
        outstanding = nil
        for (command, _) in commands { outputs.append(.commandFinished(id: command.id, .failed(reason))) }
        commands.removeAll()
    }

    /// The outputs produced since the last call.
    public mutating func takeOutputs() -> [Output] {
        defer { outputs.removeAll(keepingCapacity: true) }
        return outputs
    }

    /// The request to write now, if the line is free and something is due.
    public mutating func nextRequest(at now: UInt64) -> [UInt8]? {
        guard outstanding == nil, now >= quietUntil else { return nil }
        if !commands.isEmpty {
            let (command, attempt) = commands.removeFirst()
            states[command.device].counters.requests &+= 1
            return start(command, attempt: attempt, at: now)
        }
        var chosen: Int?
        for index in devices.indices where !devices[index].requests.isEmpty && states[index].readyAt <= now {
            if let best = chosen, states[best].readyAt <= states[index].readyAt { continue }
            chosen = index
        }
        guard let index = chosen else { return nil }
        if !states[index].inCycle {
            states[index].inCycle = true
            states[index].step = 0
            states[index].attempt = 0
            states[index].words.removeAll(keepingCapacity: true)
            states[index].cycleDue = states[index].readyAt
        }
        let device = devices[index]
        let state = states[index]
        let bytes = device.requests[state.step]
        let expectation: Expectation
        switch device.reader {
        case .frames(_, let prefix): expectation = prefix.map { .prefix($0) } ?? .any
        case .modbus(_, let unit): expectation = .modbus(unit: unit, function: bytes.count > 1 ? bytes[1] : 0)
        }
        states[index].counters.requests &+= 1
        outstanding = Transaction(job: .poll(device: index), device: index, deadline: now + device.timeout, expectation: expectation, attempt: state.attempt)
        return bytes
    }

    private mutating func start(_ command: Command, attempt: Int, at now: UInt64) -> [UInt8] {
        let turnaround = devices[command.device].turnaround
        switch command.response {
        case .none:
            outputs.append(.commandFinished(id: command.id, .sent))
            quietUntil = now + turnaround
        case .frame(let prefix):
            outstanding = Transaction(job: .command(command), device: command.device, deadline: now + command.timeout, expectation: prefix.map { .prefix($0) } ?? .any, attempt: attempt)
        case .modbus:
            let unit = command.bytes.first ?? 0
            let function = command.bytes.count > 1 ? command.bytes[1] : 0
            outstanding = Transaction(job: .command(command), device: command.device, deadline: now + command.timeout, expectation: .modbus(unit: unit, function: function), attempt: attempt)
        }
        return command.bytes
    }

    /// When the session must call back (a deadline, or the next device due), if ever.
    public var nextWakeup: UInt64? {
        if let outstanding { return outstanding.deadline }
        if !commands.isEmpty { return quietUntil }
        var earliest: UInt64?
        for index in devices.indices where !devices[index].requests.isEmpty {
            earliest = min(earliest ?? .max, states[index].readyAt)
        }
        return earliest.map { max($0, quietUntil) }
    }

    /// A frame the framer accepted.
    public mutating func receive(_ frame: UnsafeRawBufferPointer, at now: UInt64) {
        guard let transaction = outstanding, Self.matches(frame, transaction.expectation) else {
            unexpectedFrames &+= 1
            return
        }
        outstanding = nil
        let device = transaction.device
        quietUntil = now + devices[device].turnaround
        switch transaction.job {
        case .command(let command):
            states[device].counters.answers &+= 1
            if case .modbus = transaction.expectation, frame[1] & 0x80 != 0 {
                states[device].counters.exceptions &+= 1
                outputs.append(.commandFinished(id: command.id, .exception(code: frame[2], name: ModbusRTU.exceptionName(frame[2]))))
            } else {
                outputs.append(.commandFinished(id: command.id, .answered(Array(frame))))
            }
        case .poll:
            receivePoll(frame, device: device, at: now)
        }
    }

    private mutating func receivePoll(_ frame: UnsafeRawBufferPointer, device: Int, at now: UInt64) {
        switch devices[device].reader {
        case .frames(let interpreter, _):
            switch interpreter.interpret(frame, offset: 0, counters: &states[device].counters.parsing) {
            case .reading(let reading):
                states[device].counters.answers &+= 1
                completeCycle(device, reading: reading, at: now)
            case .rejected(let rejection):
                outputs.append(.rejected(device: device, rejection))
                attemptFailed(device, reason: rejection.message, at: now)
            case .ignored:
                attemptFailed(device, reason: "the answer carried no value", at: now)
            }
        case .modbus(let plan, _):
            states[device].counters.answers &+= 1
            switch ModbusRTU.parse(frame) {
            case .registers(let words)?:
                states[device].words.append(words)
                states[device].step += 1
                states[device].attempt = 0
                if states[device].step < devices[device].requests.count {
                    states[device].readyAt = now
                    return
                }
                if let reading = plan.reading(from: states[device].words, counters: &states[device].counters.parsing) {
                    completeCycle(device, reading: reading, at: now)
                } else {
                    states[device].counters.parsing.decodeErrors &+= 1
                    outputs.append(.rejected(device: device, Rejection(stage: .decoding, message: "answer has the wrong number of registers")))
                    cycleFailed(device, answered: true, reason: "wrong register count", at: now)
                }
            case .exception(_, let code)?:
                states[device].counters.exceptions &+= 1
                let message = "Modbus exception \(code) (\(ModbusRTU.exceptionName(code)))"
                outputs.append(.rejected(device: device, Rejection(stage: .decoding, message: message)))
                cycleFailed(device, answered: true, reason: message, at: now)
            default:
                states[device].counters.parsing.decodeErrors &+= 1
                attemptFailed(device, reason: "not a register read answer", at: now)
            }
        }
    }

    /// Ends the request in flight if its deadline has passed.
    public mutating func expire(at now: UInt64) {
        guard let transaction = outstanding, now >= transaction.deadline else { return }
        outstanding = nil
        let device = transaction.device
        states[device].counters.timeouts &+= 1
        switch transaction.job {
        case .command(let command):
            if transaction.attempt < command.retries {
                states[device].counters.retries &+= 1
                commands.insert((command, transaction.attempt + 1), at: 0)
            } else {
                outputs.append(.commandFinished(id: command.id, .timedOut(attempts: transaction.attempt + 1)))
            }
        case .poll:
            attemptFailed(device, reason: "no answer within \(devices[device].timeout / 1_000_000) ms", at: now)
        }
    }

    private mutating func attemptFailed(_ device: Int, reason: String, at now: UInt64) {
        states[device].attempt += 1
        let allowed = states[device].responding ? devices[device].retries : 0
        if states[device].attempt <= allowed {
            states[device].counters.retries &+= 1
            states[device].readyAt = now
        } else {
            cycleFailed(device, answered: false, reason: reason, at: now)
        }
    }

    private mutating func cycleFailed(_ device: Int, answered: Bool, reason: String, at now: UInt64) {
        states[device].counters.failedCycles &+= 1
        states[device].inCycle = false
        if answered {
            states[device].readyAt = nextDue(device, at: now)
            return
        }
        states[device].failures += 1
        if states[device].responding {
            states[device].responding = false
            let attempts = devices[device].retries + 1
            outputs.append(.responding(device: device, false, message: "not answering: \(reason) (\(attempts) attempt\(attempts == 1 ? "" : "s"))"))
        }
        let shift = UInt64(min(states[device].failures, 20))
        let backoff = min(devices[device].interval.multipliedReportingOverflow(by: 1 << shift).partialValue, devices[device].maxBackoff)
        states[device].readyAt = now + max(backoff, devices[device].interval)
    }

    private mutating func completeCycle(_ device: Int, reading: ParsedReading, at now: UInt64) {
        outputs.append(.reading(device: device, reading))
        states[device].inCycle = false
        states[device].failures = 0
        if !states[device].responding {
            states[device].responding = true
            outputs.append(.responding(device: device, true, message: "answering again"))
        }
        states[device].readyAt = nextDue(device, at: now)
    }

    private func nextDue(_ device: Int, at now: UInt64) -> UInt64 {
        max(states[device].cycleDue + devices[device].interval, now)
    }

    private static func matches(_ frame: UnsafeRawBufferPointer, _ expectation: Expectation) -> Bool {
        switch expectation {
        case .any:
            return true
        case .prefix(let prefix):
            return frame.count >= prefix.count && zip(frame, prefix).allSatisfy { $0 == $1 }
        case .modbus(let unit, let function):
            return ModbusRTU.answers(frame, unit: unit, function: function)
        }
    }
}
