import NIOHTTP1
import SerialBridgeUplink

/// What the metrics endpoint answers to a request line: `GET /metrics` (Prometheus text format),
/// `GET /healthz` and `GET /status` (the JSON that `serialbridge status` prints); `HEAD` of each
/// (the same head, no body); 405 for another method on one of them, 404 for any other path.
struct MetricsRoutes: Sendable {
    /// An answer before it is framed as HTTP.
    struct Reply: Equatable {
        var status: HTTPResponseStatus
        /// `Content-Type`; nil for an empty body.
        var contentType: String?
        var body: [UInt8]
        /// `Allow`, with a 405.
        var allow: String?
    }

    let metrics: GatewayMetrics
    let uplink: Uplink
    let status: @Sendable () -> GatewayStatus

    /// The paths served; a query string is ignored.
    static let paths: Set<Substring> = ["/metrics", "/healthz", "/status"]

    /// The reply to `method` on `uri` (the request target as sent).
    func reply(method: HTTPMethod, uri: String) -> Reply {
        let path = uri.prefix { $0 != "?" && $0 != "#" }
        guard Self.paths.contains(path) else { return Reply(status: .notFound, contentType: nil, body: [], allow: nil) }
        guard method == .GET || method == .HEAD else {
            return Reply(status: .methodNotAllowed, contentType: nil, body: [], allow: "GET, HEAD")
        }
        switch path {
        case "/metrics":
            return Reply(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.exposition(), allow: nil)
        case "/healthz":
            // The process answers: it is alive. The link's state is information, not health: with
            // the link down readings wait in the spool, which is what the gateway is for.
            let body = #"{"status":"ok","link":"\#(uplink.state.rawValue)"}"#
            return Reply(status: .ok, contentType: "application/json", body: Array(body.utf8), allow: nil)
        default:
            return Reply(status: .ok, contentType: "application/json", body: status().json, allow: nil)
        }
    }
}
