import NIOCore
import NIOPosix
import Synchronization

/// Asks every event loop of a group to run a trivial task, and reports the loops that have not
/// yet run the last one: a loop that cannot run a task is blocked, and everything on it (sockets,
/// timers, the serial ports' reads) with it.
///
/// Never waits: each ``sample()`` checks the answers to the previous probes and sends new ones to
/// the loops that answered, so a blocked loop costs the watchdog nothing but its verdict.
public final class EventLoopProbe: Sendable {
    private final class Loop: Sendable {
        let loop: any EventLoop
        /// The last probe number the loop ran (written on the loop).
        let answered = Atomic<UInt64>(0)
        /// The last probe number sent (written by the sampler only).
        let sent = Atomic<UInt64>(0)

        init(_ loop: any EventLoop) { self.loop = loop }
    }

    private let loops: [Loop]

    /// Probes every loop of `group` (the process-wide NIO group by default, which the gateway's
    /// ports and uplink and the server's HTTP all run on).
    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        loops = group.makeIterator().map(Loop.init)
    }

    /// One sample per loop ("event loop N"): pending with the probe number while the loop has
    /// not run its last probe; a loop that has gets the next probe and is reported with it
    /// pending too (a fresh mark, so the detector starts counting anew).
    public func sample() -> [StallDetector.Sample] {
        loops.enumerated().map { index, entry in
            let sent = entry.sent.load(ordering: .relaxed)
            if entry.answered.load(ordering: .acquiring) == sent {
                let next = sent &+ 1
                entry.sent.store(next, ordering: .relaxed)
                entry.loop.execute { entry.answered.store(next, ordering: .releasing) }
                return StallDetector.Sample(part: "event loop \(index)", pending: next)
            }
            return StallDetector.Sample(part: "event loop \(index)", pending: sent)
        }
    }
}
