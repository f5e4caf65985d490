import NIOCore
import NIOHTTP1
import SerialBridgeJSON
import SerialBridgeProtocol

/// Asks the server's `GET <path>/auth` why a WebSocket upgrade was refused: the upgrade itself
/// always fails with an empty HTTP 400, so this is the only way to tell a bad token from an outage.
public enum AuthProbe {
    /// What the server said.
    public enum Verdict: Sendable, Equatable, CustomStringConvertible {
        /// 200: the token is fine; the refusal had another cause.
        case accepted
        /// 401 or 403: the token was refused, with the server's reason.
        case refused(status: Int, reason: String)
        /// Some other status.
        case unexpected(status: Int, body: String)
        /// The endpoint could not be reached.
        case unreachable(String)

        public var description: String {
            switch self {
            case .accepted: "token accepted"
            case .refused(let status, let reason): "token refused (HTTP \(status): \(reason))"
            case .unexpected(let status, let body): "HTTP \(status): \(body)"
            case .unreachable(let why): "auth endpoint unreachable: \(why)"
            }
        }
    }

    /// Performs one request with `Authorization: Bearer <token>`, through the same proxy and TLS
    /// (verification, pins, client certificate) as the link; never throws.
    public static func check(_ url: ServerURL, token: String, transport: UplinkTransport = UplinkTransport()) async -> Verdict {
        do {
            let channel = try await transport.connect(to: url) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
            return try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.authPath)
                head.headers.add(name: "Host", value: url.host)
                head.headers.add(name: "Authorization", value: "Bearer \(token)")
                head.headers.add(name: "Sec-WebSocket-Protocol", value: Subprotocol.name)
                head.headers.add(name: "Connection", value: "close")
                try await outbound.write(.head(head))
                try await outbound.write(.end(nil))
                var status = 0
                var body = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let response): status = Int(response.status.code)
                    case .body(var chunk):
                        if body.readableBytes < 4096 { body.writeBuffer(&chunk) }
                    case .end: return verdict(status: status, body: String(buffer: body))
                    }
                }
                return verdict(status: status, body: String(buffer: body))
            }
        } catch {
            return .unreachable("\(error)")
        }
    }

    static func verdict(status: Int, body: String) -> Verdict {
        switch status {
        case 200..<300: return .accepted
        case 401, 403:
            // The server answers {"error": "..."}; show the reason, not the JSON.
            var reason = body
            if case .string(let text)? = (try? JSONParser.parse(Array(body.utf8)))?["error"] { reason = text }
            return .refused(status: status, reason: reason)
        default:
            return .unexpected(status: status, body: String(body.prefix(200)))
        }
    }
}
