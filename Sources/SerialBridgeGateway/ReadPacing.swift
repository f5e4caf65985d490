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
    /// Bytes in one interval from which a device counts as fast, whatever the interval: 1 KiB, a
    /// quarter of the line discipline's 4 KiB buffer. It must stay well under what the kernel can
    /// hold for a device between two reads (a pty's writer blocks at about 4 KiB), or a device
    /// faster than the kernel can buffer for one interval could never show itself fast. A device
    /// that bursts after a quiet spell waits at most an interval: at 115,200 baud 2.3 KB in
    /// 200 ms; at higher rates the tty layer's own buffers (64 KiB) hold what the line
    /// discipline's cannot.
    static let burstBytes = 1024
    private var interval: UInt64 = 0
    private var bytesThisInterval = 0
    private var bytesPreviousInterval = 0

    /// Pacing on a grid of `interval`.
    init(interval: Duration) {
        tick = max(1, PolledDevice.nanoseconds(interval))
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
        return max(bytesThisInterval, bytesPreviousInterval) >= Self.burstBytes ? .readNow : .atNextTick
    }
}
