import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A minimal HTTP CONNECT proxy on a free loopback port: reads the request head, optionally
/// demands `Proxy-Authorization`, dials the target, answers 200 and relays bytes both ways.
/// Counts and records every CONNECT so tests can prove the link went through it.
final class TestConnectProxy: Sendable {
    /// One CONNECT request as received.
    struct Request: Sendable {
        let target: String
        let authorization: String?
    }

    private final class Log: Sendable {
        let requests = Mutex<[Request]>([])
    }

    let port: Int
    private let log = Log()
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let task: Task<Void, Never>

    /// Every CONNECT received so far.
    var received: [Request] { log.requests.withLock { $0 } }

    /// Starts listening; `requiredAuthorization` makes the proxy answer 407 to any other value.
    init(requiredAuthorization: String? = nil) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        self.server = server
        port = server.channel.localAddress?.port ?? 0
        let log = self.log
        task = Task { [server] in
            await withDiscardingTaskGroup { group in
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask {
                                await Self.serve(connection, requiredAuthorization: requiredAuthorization) { request in
                                    log.requests.withLock { $0.append(request) }
                                }
                            }
                        }
                    }
                } catch {}
            }
        }
    }

    /// Stops listening and drops every tunnel.
    func stop() async {
        task.cancel()
        try? await server.channel.close()
        await task.value
    }

    private static func serve(
        _ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, requiredAuthorization: String?,
        record: @Sendable (Request) -> Void
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            var head = ByteBuffer()
            var headEnd: Int?
            while headEnd == nil, var chunk = try await iterator.next() {
                head.writeBuffer(&chunk)
                headEnd = head.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound
            }
            guard let headEnd else { return }
            let text = String(decoding: head.readableBytesView[..<headEnd], as: UTF8.self)
            let lines = text.split(separator: "\r\n")
            let requestLine = lines.first?.split(separator: " ") ?? []
            guard requestLine.count == 3, requestLine[0] == "CONNECT" else {
                try await outbound.write(ByteBuffer(string: "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"))
                return
            }
            let authorization = lines.dropFirst().first { $0.lowercased().hasPrefix("proxy-authorization:") }
                .map { String($0.dropFirst("proxy-authorization:".count).drop { $0 == " " }) }
            let target = String(requestLine[1])
            record(Request(target: target, authorization: authorization))
            if let requiredAuthorization, authorization != requiredAuthorization {
                try await outbound.write(ByteBuffer(string: "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n"))
                return
            }
            guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]) else { return }
            let host = String(target[..<colon]).trimmingCharacters(in: ["[", "]"])
            let upstream = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            try await outbound.write(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n"))
            let early = head.getSlice(at: head.readerIndex + headEnd, length: head.readableBytes - headEnd)
            try await upstream.executeThenClose { upstreamInbound, upstreamOutbound in
                if let early, early.readableBytes > 0 { try await upstreamOutbound.write(early) }
                try await withThrowingTaskGroup(of: Void.self) { relay in
                    relay.addTask {
                        for try await chunk in upstreamInbound { try await outbound.write(chunk) }
                        // The server side ended: end the client side too, which ends the loop below.
                        connection.channel.close(promise: nil)
                    }
                    while let chunk = try await iterator.next() { try await upstreamOutbound.write(chunk) }
                    relay.cancelAll()
                }
            }
        }
    }
}
