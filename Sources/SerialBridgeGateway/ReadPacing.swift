import SerialBridgePolling

/// When a paced device channel reads next: at once for a fast device, at the next tick of the
/// shared grid for a slow one (``DeviceStreamHandler``). A device is fast while it has sent at
/// least ``burstBytes`` since the start of the current grid interval.
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
    /// Bytes in one interval from which a device counts as fast. 1 KiB: a quarter of the line
    /// discipline's 4 KiB buffer. A device is paced while it sends less than this per interval (5 KiB/s
    /// at 200 ms); one that then bursts waits at most an interval, 2.3 KB at 115,200 baud, and at
    /// higher rates the tty layer's own buffers (64 KiB) hold what the line discipline's cannot.
    static let burstBytes = 1024
    private var interval: UInt64 = 0
    private var bytesThisInterval = 0

    /// Pacing on a grid of `interval`.
    init(interval: Duration) {
        tick = max(1, PolledDevice.nanoseconds(interval))
    }

    /// A read cycle that brought `bytes` ended at `now` (monotonic nanoseconds).
    mutating func cycleEnded(bytes: Int, at now: UInt64) -> Next {
        let current = now / tick
        if current != interval {
            interval = current
            bytesThisInterval = 0
        }
        bytesThisInterval += bytes
        return bytesThisInterval >= Self.burstBytes ? .readNow : .atNextTick
    }
}
