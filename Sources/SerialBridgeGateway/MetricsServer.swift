import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import SerialBridgeUplink
import ServiceLifecycle
import Synchronization

/// Serves `GET /metrics` (Prometheus text format), `GET /healthz` and `GET /status` (the JSON
/// that `serialbridge status` prints) over HTTP/1.1 from the gateway process: a small SwiftNIO
/// server (``MetricsHTTPHandler``, ``MetricsRoutes``) run as one more service of the gateway's
/// group. (Not Hummingbird: its dependencies cost the gateway several MiB of resident code for
/// three GET routes; docs/RELEASE.md, Footprint.)
///
/// An endpoint that cannot listen (the port is taken, the address is not local) is logged and the
/// gateway runs on without it: metrics never stop readings. On graceful shutdown or cancellation
/// it stops listening, closes idle connections and lets a request in progress finish.
struct MetricsServer: Service {
    let listen: MetricsListen
    let metrics: GatewayMetrics
    let uplink: Uplink
    let bound: BoundAddress
    let logger: Logger
    /// The gateway's status, for `GET /status`.
    let status: @Sendable () -> GatewayStatus
    /// Called once it listens, or once it has given up listening.
    var started: @Sendable () -> Void = {}

    func run() async throws {
        let routes = MetricsRoutes(metrics: metrics, uplink: uplink, status: status)
        let logger = self.logger
        let group = MultiThreadedEventLoopGroup.singleton
        // Knows the open connections, to close them when the endpoint stops.
        let quiescing = ServerQuiescingHelper(group: group)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                    }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withErrorHandling: true, withEncoderConfiguration: .init(),
                            withDecoderLimitConfiguration: MetricsHTTPHandler.decoderLimits
                        )
                        try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(routes: routes, logger: logger))
                    }
                }
                .bind(host: listen.host, port: listen.port).get()
        } catch {
            // Cancelled with the rest of the group: nothing to report.
            guard !Task.isCancelled else { return }
            logger.error("metrics endpoint cannot listen on \(listen): \(error); running without it")
            started()
            try? await gracefulShutdown()
            return
        }
        let address = MetricsListen(host: listen.host, port: channel.localAddress?.port ?? listen.port)
        bound.set(address)
        defer { bound.set(nil) }
        logger.info("metrics endpoint listening on http://\(address)/metrics")
        started()
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await channel.closeFuture.get()
            } onCancel: {
                quiescing.initiateShutdown(promise: nil)
            }
        } onGracefulShutdown: {
            quiescing.initiateShutdown(promise: nil)
        }
        guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
        // Closed from outside (it should not happen): the gateway runs on without it, as when it
        // cannot listen, instead of ending the group by returning.
        logger.error("metrics endpoint on \(address) stopped listening; running without it")
        try? await gracefulShutdown()
    }
}

/// The address the metrics endpoint actually listens on (port 0 resolved), once it does.
final class BoundAddress: Sendable {
    private let value = Mutex<MetricsListen?>(nil)

    var address: MetricsListen? { value.withLock { $0 } }

    func set(_ address: MetricsListen?) { value.withLock { $0 = address } }
}
