import Logging
import NIOWebSocket
import ServiceLifecycle

/// Closes the connection of a gateway whose token was revoked, within `interval` of the revocation,
/// instead of waiting for its next connect. It re-checks the token file (one `stat` when nothing
/// changed) every `interval` and closes with 1008 (policy violation); the gateway's reconnect is then
/// refused with the revocation as the reason. A gateway that has not answered the close within
/// `grace` has its TCP connection closed under it. Runs until graceful shutdown (a service that returns
/// earlier would stop the whole server), so add it only for a store that follows a file.
struct TokenRevocationWatcher: Service {
    let tokens: TokenStore
    let registry: GatewayRegistry
    let channels: GatewayChannels
    let interval: Duration
    let grace: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { break }
                let revoked = tokens.revokedSinceAccepted(logger: logger)
                guard !revoked.isEmpty else { continue }
                // Only the connections open now: one made with a new token meanwhile must stay.
                let doomed = revoked.flatMap { channels.current($0) }
                for gateway in revoked where await registry.disconnect(gateway, code: .policyViolation, reason: "token revoked") {
                    logger.warning("closed the connection of gateway \"\(gateway)\": its token was revoked")
                }
                do { try await Task.sleep(for: grace) } catch { break }
                for channel in doomed where channel.isActive {
                    logger.warning("cut off a revoked gateway's connection from \(channel.remoteAddress?.description ?? "?"): it did not answer the close")
                    channel.close(promise: nil)
                }
            }
        }
    }
}
