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
    private let queue: OutboundQueue
    private let tap: RawTap?
    private let board: DeviceCounterBoard?
    private let logger: Logger

    /// Creates a session; with `counters`, it publishes its counters there.
    public init(
        device: String, path: String, profile: DeviceProfile, format: WireFormat = .json, queue: OutboundQueue,
        tap: RawTap? = nil, counters: DeviceCounterBoard? = nil, logger: Logger
    ) {
        self.board = counters
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

    /// Reads until the port ends; publishes `totals` plus this connection's counters to `slot`
    /// after every read.
    private func read(_ port: SerialPort, totals: SessionTotals, slot: DeviceCounterBoard.Slot?) async -> (ParserCounters, String) {
        var parser = DeviceParser(spec: profile.parsing)
        let encoder = ReadingEncoder(
            gateway: queue.gateway, device: device, profile: profile.name,
            fields: parser.outputFields.map { ($0.name, $0.unit) }, format: format
        )
        do {
            let channel = try await port.asyncChannel()
            try await channel.executeThenClose { inbound, _ in
                var drafts: [ReadingDraft] = []
                func parse(_ bytes: UnsafeRawBufferPointer?, at monotonic: UInt64) {
                    let now = Timestamp.nowMilliseconds()
                    let onReading: (ParsedReading) -> Void = { reading in
                        drafts.append(ReadingDraft(
                            encoder: encoder, timestamp: now,
                            values: reading.values.map { $0.map(WireValue.init) }, outOfRange: reading.outOfRange
                        ))
                    }
                    let onRejection: (Rejection) -> Void = { rejection in
                        logger.debug("\(rejection.stage.rawValue) rejected bytes at offset \(rejection.offset): \(rejection.message)")
                    }
                    if let bytes {
                        tap?.offer(device, .rx, bytes)
                        parser.feed(bytes, at: monotonic, onReading: onReading, onRejection: onRejection)
                    } else {
                        parser.flush(at: monotonic, onReading: onReading, onRejection: onRejection)
                    }
                    queue.enqueue(drafts)
                    drafts.removeAll(keepingCapacity: true)
                    slot?.publish(DeviceCounterBoard.Counts(totals: totals, current: parser.counters, open: true))
                }
                // A step is one buffer (or tick) read, parsed and appended; `parse` ends it by
                // publishing the counters. Marking its start is one atomic store (the watchdog's
                // view of a stuck session); the stall seam is nil outside tests.
                func enter() async -> UInt64 {
                    let now = Self.monotonicNanoseconds()
                    slot?.entering(at: now)
                    if let stall = slot?.stall { await stall(device) }
                    return now
                }
                guard let interval = profile.parsing.framing.idleFlushInterval else {
                    for try await buffer in inbound {
                        let now = await enter()
                        buffer.withUnsafeReadableBytes { parse($0, at: now) }
                    }
                    return
                }
                // Silence ends frames: merge the reads with a ticker that lets the framer flush.
                let (events, continuation) = AsyncStream<ByteBuffer?>.makeStream()
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        // A read error ends the stream like end of file: the session then reopens.
                        defer { continuation.finish() }
                        do {
                            for try await buffer in inbound { continuation.yield(buffer) }
                        } catch {}
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: interval)
                            continuation.yield(nil)
                        }
                    }
                    for await event in events {
                        let now = await enter()
                        if let buffer = event {
                            buffer.withUnsafeReadableBytes { parse($0, at: now) }
                        } else {
                            parse(nil, at: now)
                        }
                    }
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            return (parser.counters, "cancelled")
        } catch {
            if !Task.isCancelled { logger.warning("read from \(path) ended: \(error)") }
            let counters = parser.counters
            return (counters, "read error: \(error)")
        }
        let counters = parser.counters
        logger.info("session ended: \(counters.framer.bytes) bytes, \(counters.readings) readings, \(counters.decodeErrors) decode errors, \(counters.checksumErrors) checksum errors, \(counters.framingErrors) framing errors")
        return (counters, "end of data")
    }

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
