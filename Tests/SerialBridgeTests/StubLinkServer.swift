import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import SerialBridgeProtocol
import ServiceLifecycle
import Synchronization

/// A tiny WebSocket server on a free loopback port that plays one misbehaviour of a SerialBridge
/// server for every gateway connection: it welcomes and then closes with a chosen code, or never
/// welcomes at all. `GET /gateway/v1/auth` answers as `auth` says (what ``AuthProbe`` asks).
final class StubLinkServer: Sendable {
    enum Behaviour: Sendable {
        /// Reads `hello`, sends `welcome`, closes with `code`.
        case welcomeThenClose(code: UInt16, reason: String?)
        /// Reads `hello`, then says nothing until the gateway goes away.
        case neverWelcome
    }

    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private let counts = Tally()

    private final class Tally: Sendable {
        let value = Mutex((connections: 0, authRequests: 0))
    }

    init(_ behaviour: Behaviour, authStatus: HTTPResponse.Status = .ok, logger: Logger) async throws {
        let bound = Mutex<Int?>(nil)
        let counts = self.counts
        let router = Router()
        router.get("/gateway/v1/auth") { _, _ -> Response in
            counts.value.withLock { $0.authRequests += 1 }
            let body = authStatus == .ok ? #"{"gateway":"gw-test"}"# : #"{"error":"unknown token"}"#
            return Response(status: authStatus, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let upgrade = HTTPServerBuilder.http1WebSocketUpgrade { _, _, _ in
            .upgrade([.secWebSocketProtocol: Subprotocol.name]) { inbound, outbound, _ in
                counts.value.withLock { $0.connections += 1 }
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                guard (try? await messages.next()) != nil else { return }
                switch behaviour {
                case .welcomeThenClose(let code, let reason):
                    let welcome = MessageCodec.encode(.welcome(Welcome(acked: nil)))
                    try? await outbound.writeTextMessage(String(decoding: welcome, as: UTF8.self))
                    try? await outbound.close(.init(codeNumber: Int(code)), reason: reason)
                case .neverWelcome:
                    while (try? await messages.next()) != nil {}
                }
            }
        }
        let application = Application(
            router: router, server: upgrade,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in bound.withLock { $0 = channel.localAddress?.port } },
            logger: logger
        )
        let group = ServiceGroup(services: [application], gracefulShutdownSignals: [], logger: logger)
        self.group = group
        task = Task { try await group.run() }
        try await eventually("stub server listening") { bound.withLock { $0 != nil } }
        port = bound.withLock { $0 } ?? 0
    }

    /// WebSocket connections accepted so far.
    var connections: Int { counts.value.withLock { $0.connections } }
    /// Requests to the auth endpoint so far.
    var authRequests: Int { counts.value.withLock { $0.authRequests } }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
