import NIOCore

/// The read grid of paced device channels on one event loop: the reads due at a tick all run
/// from one scheduled task, in one wake-up of the loop, however many devices are waiting. Ticks
/// fall on multiples of the interval since boot, so channels with the same interval share them.
final class ReadTicker {
    private var due: [UInt64: [() -> Void]] = [:]
    private let loop: any EventLoop
    /// Where the channels of this loop read at a tick (one read at a time: they run one by one).
    private var readBuffer: UnsafeMutableRawBufferPointer?
    /// 4 KiB: the kernel's tty buffer; a device with more waiting is fast and read by its channel.
    static let readBufferBytes = 4096

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Runs `read` on this loop at the next tick of a grid of `tick` nanoseconds (nonzero).
    func atNextTick(every tick: UInt64, _ read: @escaping () -> Void) {
        let deadline = (NIODeadline.now().uptimeNanoseconds / tick + 1) * tick
        if due[deadline] == nil {
            due[deadline] = [read]
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.scheduleTask(deadline: .uptimeNanoseconds(deadline)) { bound.value.fire(deadline) }
        } else {
            due[deadline]?.append(read)
        }
    }

    /// Runs `body` with this loop's tick read buffer.
    func withReadBuffer<Result>(_ body: (UnsafeMutableRawBufferPointer) -> Result) -> Result {
        let buffer = readBuffer ?? UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readBufferBytes, alignment: 16)
        readBuffer = buffer
        return body(buffer)
    }

    private func fire(_ deadline: UInt64) {
        for read in due.removeValue(forKey: deadline) ?? [] { read() }
    }

    /// The ticker of `loop`; call on that loop.
    static func on(_ loop: any EventLoop) -> ReadTicker {
        tickers.on(loop)
    }

    private static let tickers = PerLoop { ReadTicker(loop: $0) }
}
