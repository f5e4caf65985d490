import Logging
import NIOCore
import NIOPosix
import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeSerial
import SerialBridgeUplink
import Synchronization

/// One serial line whose devices speak when asked: a single polled device, or an RS-485 bus of
/// several. A ``BusScheduler`` decides every request; this shell opens the port, writes what the
/// scheduler says, feeds it the frames that come back and the deadlines that pass, and reopens the
/// port with backoff when it fails.
///
/// Everything on the line is serialised by construction: one task owns the port, the framer and
/// the scheduler, and takes bytes, timer ticks and commands from one event stream.
public final class BusSession: Sendable {
    /// A device on the line.
    public struct Member: Sendable {
        /// Stable device id.
        public var device: String
        /// Its profile.
        public var profile: DeviceProfile
        /// Modbus unit id (nil: the profile's).
        public var unit: Int?
        /// Wire encoding of its readings.
        public var format: WireFormat

        /// Creates a member.
        public init(device: String, profile: DeviceProfile, unit: Int? = nil, format: WireFormat = .json) {
            self.device = device
            self.profile = profile
            self.unit = unit
            self.format = format
        }
    }

    /// How a command ended, as the gateway reports it.
    public typealias CommandOutcome = BusScheduler.CommandOutcome

    private enum Event: Sendable {
        case bytes(ByteBuffer)
        case tick
        case command(BusScheduler.Command)
        case closed
    }

    private struct Inbox {
        var events: AsyncStream<Event>.Continuation?
        var waiting: [UInt64: CheckedContinuation<CommandOutcome, Never>] = [:]
        var nextCommand: UInt64 = 1
        var counters: [PollCounters] = []
    }

    /// The port path.
    public let path: String
    /// The devices on the line.
    public let members: [Member]
    /// Port settings (the bus's own, or the first member profile's).
    public let serial: SerialSettings
    private let framing: any FramerConfiguration
    private let polled: [PolledDevice]
    private let queue: OutboundQueue
    private let tap: RawTap?
    private let board: DeviceCounterBoard?
    private let logger: Logger
    private let inbox = Mutex(Inbox())

    /// Creates a session for `members` on `path`. Devices without polling are only commanded.
    /// With `counters`, each member's counters are published there.
    public init(
        path: String, members: [Member], serial: SerialSettings? = nil, queue: OutboundQueue, tap: RawTap? = nil,
        counters: DeviceCounterBoard? = nil, logger: Logger
    ) {
        self.board = counters
        self.path = path
        self.tap = tap
        self.members = members
        let first = members.first?.profile
        self.serial = serial ?? first?.serial ?? SerialSettings()
        self.framing = first?.parsing.framing ?? ModbusRTUFraming()
        self.polled = members.map { member in
            member.profile.polledDevice(name: member.device, unit: member.unit) ?? Self.commandOnly(member)
        }
        self.queue = queue
        var logger = logger
        logger[metadataKey: "port"] = .string(path)
        // Lines about the whole line name its devices: `device` when it is one (a polled port),
        // `devices` when several share it; lines about one member add its `device`.
        if members.count == 1, let only = members.first {
            logger[metadataKey: "device"] = .string(only.device)
        } else {
            logger[metadataKey: "devices"] = .string(members.map(\.device).joined(separator: ","))
        }
        self.logger = logger
        inbox.withLock { $0.counters = members.map { _ in PollCounters() } }
    }

    /// A device with commands but no polling: never polled, frames read as its profile says.
    private static func commandOnly(_ member: Member) -> PolledDevice {
        var device = PolledDevice(name: member.device, polling: PollingSpec(), interpreter: FrameInterpreter(spec: member.profile.parsing))
        device.requests = []
        return device
    }

    /// Each member's polling counters, in member order.
    public var counters: [PollCounters] { inbox.withLock { $0.counters } }

    /// Sends the named command to `device` and waits for its outcome.
    public func send(command name: String, to device: String, arguments: [String: Double]) async -> CommandOutcome {
        guard let index = members.firstIndex(where: { $0.device == device }) else {
            return .failed("no device \"\(device)\" on \(path)")
        }
        let member = members[index]
        guard let spec = member.profile.commands[name] else {
            let known = member.profile.commands.keys.sorted().joined(separator: ", ")
            return .failed("profile \(member.profile.name) has no command \"\(name)\"\(known.isEmpty ? "" : " (it has \(known))")")
        }
        do {
            try spec.validate(arguments)
        } catch {
            return .failed(error.message)
        }
        let unit = UInt8(clamping: member.unit ?? member.profile.modbus?.unitId ?? 0)
        let bytes = spec.render(arguments, unit: unit)
        return await withCheckedContinuation { continuation in
            let accepted = inbox.withLock { inbox -> Bool in
                guard let events = inbox.events else { return false }
                let id = inbox.nextCommand
                inbox.nextCommand += 1
                inbox.waiting[id] = continuation
                let command = BusScheduler.Command(
                    id: id, device: index, bytes: bytes, response: spec.response,
                    timeout: PolledDevice.nanoseconds(spec.timeout), retries: spec.retries
                )
                events.yield(.command(command))
                return true
            }
            if !accepted { continuation.resume(returning: .failed("\(path) is not open")) }
        }
    }

    /// Runs until cancelled, reopening the port with backoff.
    public func run() async {
        var backoff = Backoff(initial: .milliseconds(200), cap: .seconds(10))
        var random = SystemRandomNumberGenerator()
        var lastError: String?
        var scheduler = BusScheduler(devices: polled, now: Self.now())
        let slots = board.map { board in members.map { board.open(device: $0.device) } } ?? []
        defer { for slot in slots { board?.close(slot) } }
        while !Task.isCancelled {
            do {
                let port = try SerialPort.open(path: path, settings: serial)
                lastError = nil
                logger.info("opened \(path) at \(serial): \(members.map { "\($0.device) (\($0.profile.name))" }.joined(separator: ", "))")
                for member in members { report(member, .attached, counters: PollCounters()) }
                backoff.reset()
                let ending = await drive(port, scheduler: &scheduler, slots: slots)
                port.close()
                for (index, slot) in slots.enumerated() { slot.publish(.init(poll: scheduler.counters(of: index), open: false)) }
                scheduler.abandon(reason: "\(path) closed")
                deliver(scheduler.takeOutputs())
                for (index, member) in members.enumerated() {
                    report(member, .detached, message: Task.isCancelled ? "session stopped" : ending, counters: scheduler.counters(of: index))
                }
                if Task.isCancelled { return }
                logger.warning("\(path) closed (\(ending)); reopening")
            } catch {
                if lastError != error.description {
                    logger.error("\(error); retrying")
                    lastError = error.description
                    for member in members { report(member, .error, message: error.description, counters: PollCounters()) }
                }
            }
            try? await Task.sleep(for: backoff.nextDelay(using: &random))
        }
    }

    /// Runs the line until the port ends or the task is cancelled; returns why it ended.
    private func drive(_ port: SerialPort, scheduler: inout BusScheduler, slots: [DeviceCounterBoard.Slot]) async -> String {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await port.asyncChannel()
        } catch {
            return "cannot watch the port: \(error)"
        }
        let eventLoop = channel.channel.eventLoop
        let (events, continuation) = AsyncStream<Event>.makeStream()
        inbox.withLock { $0.events = continuation }
        defer { inbox.withLock { $0.events = nil } }
        var ending = "end of data"
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { continuation.yield(.closed) }
                        do {
                            for try await buffer in inbound { continuation.yield(.bytes(buffer)) }
                        } catch {
                            continuation.yield(.closed)
                        }
                    }
                    var framer = framing.makeFramer()
                    var timer: Scheduled<Void>?
                    defer { timer?.cancel() }
                    var readings = ReadingBatch()
                    let encoders = members.enumerated().map { index, member in
                        ReadingEncoder(
                            gateway: queue.gateway, device: member.device, profile: member.profile.name,
                            fields: polled[index].outputFields.map { ($0.name, $0.unit) }, format: member.format
                        )
                    }
                    func pump() async throws {
                        while true {
                            let now = Self.now()
                            scheduler.expire(at: now)
                            guard let request = scheduler.nextRequest(at: now) else { break }
                            // A fresh framer per request: bytes of an abandoned answer never prefix the next.
                            framer = framing.makeFramer()
                            if let tap { for member in members { request.withUnsafeBytes { tap.offer(member.device, .tx, $0) } } }
                            try await outbound.write(ByteBuffer(bytes: request))
                        }
                        deliver(scheduler.takeOutputs(), encoders: encoders, readings: &readings)
                        timer?.cancel()
                        if let wakeup = scheduler.nextWakeup {
                            timer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(wakeup)) { continuation.yield(.tick) }
                        }
                        let snapshot = members.indices.map { scheduler.counters(of: $0) }
                        inbox.withLock { $0.counters = snapshot }
                        for (slot, counters) in zip(slots, snapshot) { slot.publish(.init(poll: counters, open: true)) }
                    }
                    try await pump()
                    loop: for await event in events {
                        // The watchdog's mark: a step per event, ended by pump()'s publish.
                        slots.first?.entering(at: Self.now())
                        switch event {
                        case .bytes(let buffer):
                            let now = Self.now()
                            buffer.withUnsafeReadableBytes { bytes in
                                if let tap { for member in members { tap.offer(member.device, .rx, bytes) } }
                                framer.feed(bytes, at: now) { event in
                                    switch event {
                                    case .frame(let frame, _):
                                        scheduler.receive(frame, at: now)
                                    case .rejected(let reason, let offset):
                                        logger.debug("framing rejected bytes at offset \(offset): \(reason)")
                                    }
                                }
                            }
                        case .tick:
                            break
                        case .command(let command):
                            scheduler.enqueue(command)
                        case .closed:
                            break loop
                        }
                        try await pump()
                    }
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            ending = "cancelled"
        } catch {
            ending = "port error: \(error)"
        }
        if Task.isCancelled { ending = "cancelled" }
        return ending
    }

    private func deliver(_ outputs: [BusScheduler.Output]) {
        var readings = ReadingBatch()
        deliver(outputs, encoders: [], readings: &readings)
    }

    private func deliver(_ outputs: [BusScheduler.Output], encoders: [ReadingEncoder], readings: inout ReadingBatch) {
        guard !outputs.isEmpty else { return }
        let timestamp = Timestamp.nowMilliseconds()
        var finished: [(UInt64, CommandOutcome)] = []
        for output in outputs {
            switch output {
            case .reading(let index, let reading) where index < encoders.count:
                readings.append(reading, encoder: encoders[index], timestamp: timestamp)
            case .reading:
                break
            case .responding(let index, let answering, let message):
                let member = members[index]
                if answering {
                    logger.notice("\(member.device) is \(message)", metadata: ["device": .string(member.device)])
                } else {
                    logger.warning("\(member.device) \(message)", metadata: ["device": .string(member.device)])
                }
                report(member, answering ? .attached : .error, message: message, counters: PollCounters())
            case .rejected(let index, let rejection):
                logger.debug("\(members[index].device): \(rejection.stage.rawValue): \(rejection.message)", metadata: ["device": .string(members[index].device)])
            case .commandFinished(let id, let outcome):
                finished.append((id, outcome))
            }
        }
        queue.enqueue(readings)
        readings.removeAll()
        for (id, outcome) in finished {
            inbox.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: outcome)
        }
    }

    private func report(_ member: Member, _ kind: DeviceStateChange.Kind, message: String? = nil, counters: PollCounters) {
        queue.enqueue(
            device: member.device, kind: kind, profile: member.profile.name, path: path,
            timestamp: Timestamp.nowMilliseconds(), message: message, counters: Self.named(counters),
            commands: kind == .attached ? member.profile.commandDescriptions : nil
        )
    }

    static func named(_ counters: PollCounters) -> [(String, Int64)] {
        [
            ("requests", Int64(clamping: counters.requests)),
            ("answers", Int64(clamping: counters.answers)),
            ("timeouts", Int64(clamping: counters.timeouts)),
            ("retries", Int64(clamping: counters.retries)),
            ("exceptions", Int64(clamping: counters.exceptions)),
            ("failedCycles", Int64(clamping: counters.failedCycles)),
            ("readings", Int64(clamping: counters.parsing.readings)),
            ("checksumErrors", Int64(clamping: counters.parsing.checksumErrors)),
            ("decodeErrors", Int64(clamping: counters.parsing.decodeErrors)),
            ("outOfRange", Int64(clamping: counters.parsing.outOfRange)),
        ]
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}
