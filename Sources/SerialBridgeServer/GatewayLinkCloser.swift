import Logging
import ServiceLifecycle

/// Waits for graceful shutdown, then closes every gateway link with 1001 ("going away") and
/// ends every dashboard subscription, before the HTTP server itself stops.
struct GatewayLinkCloser: Service {
    let registry: GatewayRegistry
    let feed: LiveFeed
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let open = registry.gateways.filter(\.online).count
        logger.info("shutting down: closing \(open) gateway connection(s) with 1001")
        await registry.closeAll(code: .goingAway, reason: "shutting-down")
        feed.finishAll()
    }
}
