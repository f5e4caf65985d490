import Logging
import NIOCore
import NIOPosix
import SerialBridgeParsing
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeSerial
import SerialBridgeUplink

#if canImport(Glibc)
import Glibc
#endif

/// One device: opens its port with the profile's settings, parses what it sends, and hands the
/// readings to the outbound queue. When the port fails to open or the device goes away (EOF, EIO,
/// ENXIO) it reopens with backoff until the session is cancelled.
public struct DeviceSession: Sendable {
    /// Stable device id.
    public let device: String
    /// Port path.
    public let path: String
    /// The profile decoding it.
    public let profile: DeviceProfile
    /// Wire encoding of its readings.
    public let format: WireFormat
    /// While the device's reads are small, it is read at most once per interval, on a grid shared
    /// by every session (zero: at once). See ``DeviceStreamHandler``.
    public let readInterval: Duration
    /// The default ``readInterval``: 200 ms. Each tick with readings costs the same (a wake-up, a
    /// spool write, a message, an ack: about half a millisecond of CPU on a small box), so the
    /// interval sets the floor of the gateway's CPU under a steady trickle: 5 ticks a second keep
    /// 1,000 readings/s under 1 % of a core (docs/PERFORMANCE.md).
    public static let defaultReadInterval: Duration = .milliseconds(200)
    private let queue: OutboundQueue
    private let tap: RawTap?
    private let board: DeviceCounterBoard?
    private let logger: Logger

    /// Creates a session; with `counters`, it publishes its counters there.
    public init(
        device: String, path: String, profile: DeviceProfile, format: WireFormat = .json, queue: OutboundQueue,
        tap: RawTap? = nil, counters: DeviceCounterBoard? = nil, readInterval: Duration = defaultReadInterval, logger: Logger
    ) {
        self.board = counters
        self.readInterval = readInterval
        self.device = device
        self.format = format
        self.tap = tap
        self.path = path
        self.profile = profile
        self.queue = queue
        var logger = logger
        logger[metadataKey: "device"] = .string(device)
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        var backoff = Backoff(initial: .milliseconds(200), cap: .seconds(10))
        var random = SystemRandomNumberGenerator()
        var lastError: String?
        var totals = SessionTotals()
        let slot = board?.open(device: device)
        defer { slot.map { board?.close($0) } }
        while !Task.isCancelled {
            do {
                let port = try SerialPort.open(path: path, settings: profile.serial)
                lastError = nil
                logger.info("opened \(path) at \(profile.serial) with profile \(profile.name)")
                report(.attached, totals: totals)
                slot?.publish(DeviceCounterBoard.Counts(totals: totals, current: ParserCounters(), open: true))
                backoff.reset()
                let (counters, ending) = await read(port, totals: totals, slot: slot)
                port.close()
                totals.add(counters)
                totals.reopens += 1
                slot?.publish(DeviceCounterBoard.Counts(totals: totals, current: ParserCounters(), open: false))
                if Task.isCancelled {
                    report(.detached, message: "session stopped (device removed, or the gateway is stopping)", totals: totals)
                    return
                }
                logger.warning("device \(path) detached (\(ending)); waiting for it to return")
                report(.detached, message: ending, totals: totals)
            } catch {
                // Log and report a repeated failure once, not at every retry.
                if lastError != error.description {
                    logger.error("\(error); retrying")
                    lastError = error.description
                    report(.error, message: error.description, totals: totals)
                }
            }
            try? await Task.sleep(for: backoff.nextDelay(using: &random))
        }
    }

    private func report(_ kind: DeviceStateChange.Kind, message: String? = nil, totals: SessionTotals) {
        // Profiles with commands run in bus sessions, so this device takes none: `attached` says
        // so, and a dashboard offers no command form.
        queue.enqueue(
            device: device, kind: kind, profile: profile.name, path: path,
            timestamp: Timestamp.nowMilliseconds(), message: message, counters: totals.named,
            commands: kind == .attached ? [] : nil
        )
    }

    /// Reads until the port ends, on the channel's event loop (``DeviceStreamHandler``);
    /// publishes `totals` plus this connection's counters to `slot` after every read cycle.
    private func read(_ port: SerialPort, totals: SessionTotals, slot: DeviceCounterBoard.Slot?) async -> (ParserCounters, String) {
        let parser = DeviceParser(spec: profile.parsing)
        let encoder = ReadingEncoder(
            gateway: queue.gateway, device: device, profile: profile.name,
            fields: parser.outputFields.map { ($0.name, $0.unit) }, format: format
        )
        let loop = Self.readLoop
        let finished = loop.makePromise(of: DeviceStreamHandler.Outcome.self)
        let (queue, device, tap, logger) = (self.queue, self.device, self.tap, self.logger)
        let interval = profile.parsing.framing.idleFlushInterval
        // Silence ends a time-framed profile's frames: its bytes must be read as they arrive.
        let pacing = interval == nil && readInterval > .zero ? readInterval : nil
        let channel: any Channel
        do {
            channel = try await port.channel(on: loop) {
                DeviceStreamHandler(
                    parser: parser, encoder: encoder, queue: queue, device: device, tap: tap, slot: slot, totals: totals,
                    logger: logger, finished: finished, idleFlushInterval: interval, readInterval: pacing,
                    tickDescriptor: pacing == nil ? -1 : (try? port.duplicateDescriptor()) ?? -1
                )
            }
        } catch {
            finished.fail(error)
            if !Task.isCancelled { logger.warning("read from \(path) ended: \(error)") }
            return (ParserCounters(), "read error: \(error)")
        }
        let outcome = await withTaskCancellationHandler {
            try? await finished.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        let counters = outcome?.counters ?? ParserCounters()
        if Task.isCancelled { return (counters, "cancelled") }
        let ending = outcome?.ending ?? "end of data"
        if ending != "end of data" {
            logger.warning("read from \(path) ended: \(ending)")
        } else {
            logger.info("session ended: \(counters.framer.bytes) bytes, \(counters.readings) readings, \(counters.decodeErrors) decode errors, \(counters.checksumErrors) checksum errors, \(counters.framingErrors) framing errors")
        }
        return (counters, ending)
    }

    /// The event loop every streaming device is read on. One loop for all: the reads of many
    /// devices due at the same tick share one wake-up, and their appends to the outbound queue never
    /// contend for its lock. Parsing flat out on one core (0.6–3.5 µs a reading, docs/PERFORMANCE.md)
    /// is far above what a box's serial lines can deliver.
    static let readLoop: any EventLoop = loops.first ?? MultiThreadedEventLoopGroup.singleton.next()

    /// The event loop of the uplink's connections (their I/O and tasks): another than ``readLoop``
    /// when NIO's group has more than one, so that sending a backlog never delays a device's read.
    static let uplinkLoop: any EventLoop = loops.dropFirst().first ?? readLoop

    private static let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

}

/// A device's counters over all its sessions since the gateway started.
struct SessionTotals {
    var counters = ParserCounters()
    var reopens: Int64 = 0

    mutating func add(_ session: ParserCounters) {
        counters.framer.bytes &+= session.framer.bytes
        counters.framer.frames &+= session.framer.frames
        counters.framer.resyncs &+= session.framer.resyncs
        counters.readings &+= session.readings
        counters.decodeErrors &+= session.decodeErrors
        counters.checksumErrors &+= session.checksumErrors
        counters.framingErrors &+= session.framingErrors
        counters.outOfRange &+= session.outOfRange
    }

    /// The counters as `device` events carry them.
    var named: [(String, Int64)] {
        [
            ("bytes", Int64(clamping: counters.framer.bytes)),
            ("frames", Int64(clamping: counters.framer.frames)),
            ("readings", Int64(clamping: counters.readings)),
            ("decodeErrors", Int64(clamping: counters.decodeErrors)),
            ("checksumErrors", Int64(clamping: counters.checksumErrors)),
            ("framingErrors", Int64(clamping: counters.framingErrors)),
            ("resyncs", Int64(clamping: counters.framer.resyncs)),
            ("outOfRange", Int64(clamping: counters.outOfRange)),
            ("reopens", reopens),
        ]
    }
}

extension WireValue {
    /// The wire form of a decoded value.
    public init(_ value: Value) {
        switch value {
        case .float(let number): self = .float(number)
        case .integer(let number): self = .integer(number)
        case .string(let text): self = .string(text)
        case .boolean(let flag): self = .boolean(flag)
        case .bytes(let bytes): self = .bytes(bytes)
        }
    }
}

extension ReadingBatch {
    /// Adds a parsed reading of `encoder`'s device, made at `timestamp`.
    mutating func append(_ reading: ParsedReading, encoder: ReadingEncoder, timestamp: Int64) {
        append(encoder: encoder, timestamp: timestamp, count: reading.values.count, outOfRange: reading.outOfRange) {
            reading.values[$0].map(WireValue.init)
        }
    }
}
