import NIOCore
import Synchronization

/// The network channels of connected gateways, by gateway id, so that a gateway whose token was
/// revoked can be cut off even if it ignores the WebSocket close handshake (the WebSocket layer
/// waits for the peer's answer for as long as the connection's handler runs).
final class GatewayChannels: Sendable {
    private let channels = Mutex<[String: [ObjectIdentifier: any Channel]]>([:])

    /// Remembers an accepted gateway connection until it closes.
    func add(_ gateway: String, _ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[gateway, default: [:]][id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.channels.withLock { channels in
                channels[gateway]?.removeValue(forKey: id)
                if channels[gateway]?.isEmpty == true { channels.removeValue(forKey: gateway) }
            }
        }
    }

    /// The open channels of `gateway` now.
    func current(_ gateway: String) -> [any Channel] {
        channels.withLock { Array(($0[gateway] ?? [:]).values) }
    }
}
