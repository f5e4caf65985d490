import Logging
import SerialBridgeUplink
import ServiceLifecycle

/// Tells the uplink when the network comes back (rtnetlink link and address events), so a gateway
/// that lost its link redials at once instead of sleeping out its backoff.
struct NetworkFollower: Service {
    let uplink: Uplink
    let logger: Logger

    func run() async throws {
        let watcher: NetworkWatcher
        do {
            watcher = try NetworkWatcher()
        } catch {
            logger.notice("not following network changes (\(error)); reconnects wait for their backoff")
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            for await change in watcher.changes() {
                logger.debug("network: \(change)")
                uplink.networkUp()
            }
        }
    }
}
