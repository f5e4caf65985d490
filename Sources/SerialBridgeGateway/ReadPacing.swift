import SerialBridgePolling

/// When a paced device channel reads next: at once for a fast device, at the next tick of the
/// shared grid for a slow one (``DeviceStreamHandler``). A device is fast while it has sent at
/// least ``burstBytes`` since the start of the current grid interval or during the previous one:
/// a steady fast device stays fast across interval boundaries, and one that slows down is paced
/// again after a whole quiet interval.
struct ReadPacing: Sendable, Equatable {
    /// What to do after a read cycle.
    enum Next: Sendable, Equatable {
        /// Read again now: the device is sending fast.
        case readNow
        /// Wait for the grid's next tick.
        case atNextTick
    }

    /// The grid's interval, in nanoseconds.
    let tick: UInt64
    /// Bytes in one interval from which a device counts as fast: ``burstRate`` over the interval,
    /// at least 1 KiB (4 KiB at 200 ms, the line discipline's buffer).
    let burstBytes: Int
    /// The rate from which a device counts as fast: 20 KiB/s, so that a paced device leaves at most
    /// 4 KiB waiting at a 200 ms tick. One that bursts after a quiet spell waits at most an
    /// interval (at 921,600 baud, 18 KB in 200 ms), which the tty layer's own buffers (64 KiB) hold.
    static let burstRate = 20 * 1024
    private var interval: UInt64 = 0
    private var bytesThisInterval = 0
    private var bytesPreviousInterval = 0

    /// Pacing on a grid of `interval`.
    init(interval: Duration) {
        tick = max(1, PolledDevice.nanoseconds(interval))
        burstBytes = max(1024, Int(clamping: UInt64(Self.burstRate) * tick / 1_000_000_000))
    }

    /// A read cycle that brought `bytes` ended at `now` (monotonic nanoseconds).
    mutating func cycleEnded(bytes: Int, at now: UInt64) -> Next {
        let current = now / tick
        if current != interval {
            bytesPreviousInterval = current == interval + 1 ? bytesThisInterval : 0
            interval = current
            bytesThisInterval = 0
        }
        bytesThisInterval += bytes
        return max(bytesThisInterval, bytesPreviousInterval) >= burstBytes ? .readNow : .atNextTick
    }
}
