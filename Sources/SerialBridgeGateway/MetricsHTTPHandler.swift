import Logging
import NIOCore
import NIOHTTP1

/// One connection to the metrics endpoint, behind NIO's HTTP/1 server pipeline (which parses,
/// answers malformed requests with 400 and holds pipelined requests back until the previous
/// answer is out): answers each request once it has fully arrived.
///
/// Requests are bounded: the decoder limits the head (``decoderLimits``) and a body, which no
/// route reads, may not exceed ``maximumBodyBytes`` (413, then the connection closes).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The largest request body accepted (and ignored): a scrape has none.
    static let maximumBodyBytes = 16 * 1024

    /// Limits of a request head: a scraper or `curl` sends a few hundred bytes of it.
    static let decoderLimits: NIOHTTPDecoderLimitConfiguration = {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = 8 * 1024
        limits.maxHeaderListSize = 16 * 1024
        limits.maxHeaderFieldCount = 100
        return limits
    }()

    private let routes: MetricsRoutes
    private let logger: Logger
    /// The request being received, until its end arrives.
    private var request: HTTPRequestHead?
    private var bodyBytes = 0

    init(routes: MetricsRoutes, logger: Logger) {
        self.routes = routes
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            bodyBytes = 0
        case .body(let chunk):
            guard let head = request else { return }  // refused already; the connection is closing
            bodyBytes += chunk.readableBytes
            if bodyBytes > Self.maximumBodyBytes {
                request = nil
                logger.debug("metrics endpoint: \(head.method) \(head.uri) refused: body over \(Self.maximumBodyBytes) bytes")
                let reply = MetricsRoutes.Reply(status: .payloadTooLarge, contentType: nil, body: [], allow: nil)
                respond(context, reply, version: head.version, omitBody: false, keepAlive: false)
            }
        case .end:
            guard let head = request else { return }
            request = nil
            let reply = routes.reply(method: head.method, uri: head.uri)
            respond(context, reply, version: head.version, omitBody: head.method == .HEAD, keepAlive: head.isKeepAlive)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed request has had its 400 from the pipeline's error handler already.
        logger.debug("metrics endpoint: connection closed on error: \(error)")
        context.close(promise: nil)
    }

    /// Writes `reply`; closes the connection after it unless the request asked to keep it alive.
    private func respond(
        _ context: ChannelHandlerContext, _ reply: MetricsRoutes.Reply, version: HTTPVersion, omitBody: Bool, keepAlive: Bool
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Server", value: "serialbridge-gateway")
        headers.add(name: "Date", value: HTTPDate.string())
        if let type = reply.contentType { headers.add(name: "Content-Type", value: type) }
        if let allow = reply.allow { headers.add(name: "Allow", value: allow) }
        // A HEAD answer carries the length the GET answer would have.
        headers.add(name: "Content-Length", value: String(reply.body.count))
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if (version.major, version.minor) < (1, 1) {
            // HTTP/1.0 closes by default: say that this connection stays.
            headers.add(name: "Connection", value: "keep-alive")
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
        if !omitBody && !reply.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))), promise: nil)
        }
        guard !keepAlive else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        // Closed once written, not at once: a close drops writes still queued on a full socket.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
