import Hummingbird
import Logging
import NIOCore
import SerialBridgeUplink
import ServiceLifecycle
import Synchronization

/// Serves `GET /metrics` (Prometheus text format), `GET /healthz` and `GET /status` (the JSON
/// that `serialbridge status` prints) over HTTP from the gateway process: a Hummingbird
/// application run as one more service of the gateway's group.
///
/// An endpoint that cannot listen (the port is taken, the address is not local) is logged and the
/// gateway runs on without it: metrics never stop readings.
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
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
            )
        }
        router.get("healthz") { _, _ -> Response in
            // The process answers: it is alive. The link's state is information, not health: with
            // the link down readings wait in the spool, which is what the gateway is for.
            let body = #"{"status":"ok","link":"\#(uplink.state.rawValue)"}"#
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body))
            )
        }
        let status = self.status
        router.get("status") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: status().json))
            )
        }
        let listen = self.listen
        let bound = self.bound
        let started = self.started
        let logger = self.logger
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "serialbridge-gateway"),
            onServerRunning: { channel in
                let address = MetricsListen(host: listen.host, port: channel.localAddress?.port ?? listen.port)
                bound.set(address)
                logger.info("metrics endpoint listening on http://\(address)/metrics")
                started()
            },
            logger: logger
        )
        defer { bound.set(nil) }
        do {
            try await application.run()
        } catch {
            // Cancelled with the rest of the group: nothing to report.
            guard !Task.isCancelled else { return }
            logger.error("metrics endpoint cannot listen on \(listen): \(error); running without it")
            started()
            try? await gracefulShutdown()
        }
    }
}

/// The address the metrics endpoint actually listens on (port 0 resolved), once it does.
final class BoundAddress: Sendable {
    private let value = Mutex<MetricsListen?>(nil)

    var address: MetricsListen? { value.withLock { $0 } }

    func set(_ address: MetricsListen?) { value.withLock { $0 = address } }
}
