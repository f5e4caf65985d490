import SerialBridgeProtocol
import SerialBridgeUplink
import Synchronization

/// Which devices the server is watching raw, and the way their bytes go there: sessions offer every
/// chunk they read or write, and a chunk of an untapped device costs one atomic load.
public final class RawTap: Sendable {
    private let tapped = Mutex<Set<String>>([])
    private let count = Atomic<Int>(0)
    private let uplink: Uplink

    /// Creates a tap that sends through `uplink` (outside the spool: raw traffic is live, not kept).
    public init(uplink: Uplink) {
        self.uplink = uplink
    }

    /// Starts or stops forwarding `device`.
    public func set(_ device: String, on: Bool) {
        let total = tapped.withLock { set -> Int in
            if on { set.insert(device) } else { set.remove(device) }
            return set.count
        }
        count.store(total, ordering: .relaxed)
    }

    /// Whether `device` is tapped now.
    public func isTapped(_ device: String) -> Bool {
        count.load(ordering: .relaxed) > 0 && tapped.withLock { $0.contains(device) }
    }

    /// Forwards `bytes` if `device` is tapped (dropped, not queued, when the link is down or slow).
    public func offer(_ device: String, _ direction: TapData.Direction, _ bytes: UnsafeRawBufferPointer) {
        guard count.load(ordering: .relaxed) > 0, !bytes.isEmpty, tapped.withLock({ $0.contains(device) }) else { return }
        uplink.sendOutOfBand(.tapData(TapData(device: device, timestamp: Timestamp.nowMilliseconds(), direction: direction, bytes: Array(bytes))))
    }
}
