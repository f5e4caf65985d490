import Glibc
import Logging
import NIOCore
import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeProtocol
import SerialBridgeUplink

/// Reads a streaming device on its channel's event loop: each buffer is framed, decoded and
/// encoded where it was read, and the readings of a turn of the loop (every device read then) are
/// appended to the outbound queue in one batch (``AppendBatcher``). No task hop and no thread wake-up per read: at low rates, where every
/// line arrives in a read of its own, the hop to a task cost more than everything else a reading
/// takes.
///
/// Reads of slow devices are paced (`readInterval`, ``ReadPacing``): while a device sends less
/// than ``ReadPacing/burstBytes`` per interval, its next read waits for the next tick of a grid of
/// `readInterval` shared by every session, so that the lines of many slow devices are read in one
/// wake-up of the event loop instead of one each, and a device's lines that arrived meanwhile in
/// one read, straight from the descriptor. A device that sent nothing by the tick is read the
/// moment its next byte arrives. A fast device is read at once, every time.
///
/// A read cycle is one step for the service watchdog: marked entered at its first read and ended
/// when its counters are published. When the channel closes, ``finished`` gets the connection's
/// counters and why it ended.
final class DeviceStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// How the read of one connection ended.
    struct Outcome: Sendable {
        var counters: ParserCounters
        var ending: String
    }

    private var parser: DeviceParser
    private let encoder: ReadingEncoder
    private let queue: OutboundQueue
    private let device: String
    private let tap: RawTap?
    private let slot: DeviceCounterBoard.Slot?
    private let totals: SessionTotals
    private let logger: Logger
    private let finished: EventLoopPromise<Outcome>
    /// Silence ends frames of time-framed profiles: the framer is offered a flush this often.
    private let idleFlushInterval: Duration?

    private var readings = ReadingBatch()
    private var inStep = false
    private var ending: String?
    private var ticker: RepeatedTask?
    /// Ticks since the last read; the ticker stops after a few (the framer has flushed by then).
    private var quietTicks = 0
    /// Test seam (``DeviceCounterBoard/setStall(_:)``): buffers read while a step is held wait here.
    private var held: [ByteBuffer] = []
    private var holding = false
    private var done = false
    private var bytesThisCycle = 0
    /// nil: read whenever bytes arrive (auto-read).
    private var pacing: ReadPacing?
    private var context: ChannelHandlerContext?
    private var readScheduled = false
    /// The handler's own duplicate of the port's descriptor for reads at a tick (``readAtTick()``);
    /// -1: none (not paced, or the duplicate failed), or closed.
    private var tickDescriptor: Int32

    init(
        parser: DeviceParser, encoder: ReadingEncoder, queue: OutboundQueue, device: String, tap: RawTap?,
        slot: DeviceCounterBoard.Slot?, totals: SessionTotals, logger: Logger, finished: EventLoopPromise<Outcome>,
        idleFlushInterval: Duration?, readInterval: Duration?, tickDescriptor: Int32 = -1
    ) {
        pacing = readInterval.map { ReadPacing(interval: $0) }
        self.tickDescriptor = tickDescriptor
        self.parser = parser
        self.encoder = encoder
        self.queue = queue
        self.device = device
        self.tap = tap
        self.slot = slot
        self.totals = totals
        self.logger = logger
        self.finished = finished
        self.idleFlushInterval = idleFlushInterval
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Cannot fail on a pipe channel; were it to, reads would just not be paced.
        if pacing != nil { try? context.channel.syncOptions?.setOption(.autoRead, value: false) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if pacing != nil { context.read() }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard !holding else {
            bytesThisCycle += buffer.readableBytes
            return held.append(buffer)
        }
        if let stall = slot?.stall {
            bytesThisCycle += buffer.readableBytes
            _ = enterStep()
            return hold(buffer, stall: stall, context: context)
        }
        buffer.withUnsafeReadableBytes { received($0, context: context) }
    }

    /// Bytes read (by the channel or at a tick): counted for pacing, parsed, the silence ticker armed.
    private func received(_ bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        bytesThisCycle += bytes.count
        feed(bytes, at: enterStep())
        armTicker(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !holding else { return }
        endStep()
        scheduleRead(context: context)
    }

    /// Paced: the next read at once for a fast device, else at the next tick of the shared grid.
    private func scheduleRead(context: ChannelHandlerContext) {
        guard !readScheduled, var pacing else { return }
        let next = pacing.cycleEnded(bytes: bytesThisCycle, at: NIODeadline.now().uptimeNanoseconds)
        self.pacing = pacing
        bytesThisCycle = 0
        if next == .readNow { return context.read() }
        readScheduled = true
        ReadTicker.on(context.eventLoop).atNextTick(every: pacing.tick) { [self] in
            readScheduled = false
            readAtTick()
        }
    }

    /// At a tick: reads what the device sent meanwhile straight from the descriptor. A channel
    /// read would register for readiness, wait for it and unregister (four `epoll_ctl` on a pipe
    /// channel) for bytes that are already there. When nothing is waiting, or the read fails (the
    /// device went away), the channel reads instead: it waits for the next byte or reports the error.
    private func readAtTick() {
        // Closed meanwhile: NIO removes the handler a turn after `channelInactive`, and the session
        // has its outcome already.
        guard !done, let context else { return }
        guard tickDescriptor >= 0, !holding, slot?.stall == nil else { return context.read() }
        let ticker = ReadTicker.on(context.eventLoop)
        let descriptor = tickDescriptor
        let count = ticker.withReadBuffer { buffer -> Int in
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count > 0 { received(UnsafeRawBufferPointer(rebasing: buffer[..<count]), context: context) }
            return count
        }
        guard count > 0 else { return context.read() }
        // The read cycle ends as a channel read's does.
        channelReadComplete(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // EIO/ENXIO: the device went away. The session reopens it.
        if ending == nil { ending = "read error: \(error)" }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        ticker?.cancel()
        ticker = nil
        // The port may be reopened at once: its lock must not outlive the channel in this duplicate.
        closeTickDescriptor()
        if !holding { endStep() }
        // Its readings go before the `detached` event the session appends next.
        AppendBatcher.on(context.eventLoop).flush()
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Normally channelInactive came first.
        self.context = nil
        closeTickDescriptor()
        finish()
    }

    deinit {
        closeTickDescriptor()
    }

    private func closeTickDescriptor() {
        if tickDescriptor >= 0 { Glibc.close(tickDescriptor) }
        tickDescriptor = -1
    }

    private func finish() {
        guard !done else { return }
        done = true
        finished.succeed(Outcome(counters: parser.counters, ending: ending ?? "end of data"))
    }

    /// Marks the step entered (once per read cycle); returns the monotonic time of this read.
    private func enterStep() -> UInt64 {
        let now = DeviceSession.monotonicNanoseconds()
        if !inStep {
            inStep = true
            slot?.entering(at: now)
        }
        return now
    }

    /// Appends the cycle's readings and publishes the counters, which ends the step.
    private func endStep() {
        guard inStep else { return }
        inStep = false
        if !readings.isEmpty {
            if let context {
                AppendBatcher.on(context.eventLoop).add(&readings, to: queue)
            } else {
                queue.enqueue(readings)
                readings.removeAll()
            }
        }
        slot?.publish(DeviceCounterBoard.Counts(totals: totals, current: parser.counters, open: true))
    }

    private func feed(_ bytes: UnsafeRawBufferPointer, at now: UInt64) {
        quietTicks = 0
        tap?.offer(device, .rx, bytes)
        parse { parser, collect in parser.feed(bytes, at: now, onReading: collect, onRejection: log) }
    }

    /// Runs `body` with the parser and a sink for its readings, stamped now. The batch is moved
    /// into a local for the call: the closures then touch no property of this class.
    private func parse(_ body: (inout DeviceParser, (ParsedReading) -> Void) -> Void) {
        let timestamp = Timestamp.nowMilliseconds()
        let encoder = self.encoder
        var readings = ReadingBatch()
        swap(&readings, &self.readings)
        body(&parser) { reading in
            readings.append(reading, encoder: encoder, timestamp: timestamp)
        }
        swap(&readings, &self.readings)
    }

    private func log(_ rejection: Rejection) {
        logger.debug("\(rejection.stage.rawValue) rejected bytes at offset \(rejection.offset): \(rejection.message)")
    }

    /// Time-framed profiles: ticks while bytes are coming, stopping three quiet ticks after the
    /// last read (the interval is half the framer's gap, so the framer has ended its frame by then).
    private func armTicker(context: ChannelHandlerContext) {
        guard let interval = idleFlushInterval, ticker == nil else { return }
        let nanoseconds = Int64(clamping: PolledDevice.nanoseconds(interval))
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        ticker = context.eventLoop.scheduleRepeatedTask(
            initialDelay: .nanoseconds(nanoseconds), delay: .nanoseconds(nanoseconds)
        ) { _ in bound.value.tick() }
    }

    private func tick() {
        guard !holding else { return }
        let now = enterStep()
        parse { parser, collect in parser.flush(at: now, onReading: collect, onRejection: log) }
        endStep()
        quietTicks += 1
        if quietTicks >= 3 {
            ticker?.cancel()
            ticker = nil
        }
    }

    /// The test seam: the step stays entered (a wedged session, as the watchdog sees it) until
    /// `stall` returns; what is read meanwhile waits, then everything is parsed in order.
    private func hold(_ buffer: ByteBuffer, stall: @escaping @Sendable (String) async -> Void, context: ChannelHandlerContext) {
        holding = true
        held = [buffer]
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let device = self.device
        Task {
            await stall(device)
            loop.execute { bound.value.release() }
        }
    }

    private func release() {
        holding = false
        let buffers = held
        held = []
        for buffer in buffers { buffer.withUnsafeReadableBytes { feed($0, at: DeviceSession.monotonicNanoseconds()) } }
        endStep()
        if let context { scheduleRead(context: context) }
    }
}
