import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import WSCompression
import WSCore

/// How the uplink reaches the server: TCP, then a proxy `CONNECT` tunnel if a proxy is set, then
/// TLS for `wss://` (verified, host-checked, pin-checked) — the same for the WebSocket link and
/// for ``AuthProbe``. Also whether the WebSocket offers permessage-deflate.
public struct UplinkTransport: Sendable {
    /// TLS for `wss://` URLs; nil only for `ws://` (a `wss://` URL then gets the system defaults).
    public var tls: UplinkTLS?
    /// The proxy to tunnel through; nil connects directly.
    public var proxy: UplinkProxy?
    /// Offer permessage-deflate (RFC 7692) in the upgrade; used when the server accepts it.
    public var compression: Bool
    /// TCP connect timeout.
    public var connectTimeout: Duration
    /// Time allowed from dialling to a finished WebSocket upgrade (TCP, proxy, TLS, HTTP); a peer
    /// that accepts TCP and then says nothing cannot hold the uplink longer than this.
    public var setupTimeout: Duration
    /// Where connections live: their I/O, and their tasks (reader, sender, heartbeats). NIO's
    /// shared group by default; the gateway gives a loop of its own choosing, not the one its
    /// devices are read on, so that a backlog being sent never delays a device's read.
    public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// Creates a transport.
    public init(
        tls: UplinkTLS? = nil, proxy: UplinkProxy? = nil, compression: Bool = true,
        connectTimeout: Duration = .seconds(10), setupTimeout: Duration = .seconds(30)
    ) {
        self.tls = tls
        self.proxy = proxy
        self.compression = compression
        self.connectTimeout = connectTimeout
        self.setupTimeout = setupTimeout
    }

    /// The WebSocket extensions to offer, for frames up to `maxFrameSize` once inflated. The
    /// gateway deflates at zlib's fastest level: on readings' JSON it costs a third of the default
    /// level's CPU for a few percent more bytes, and an edge box's CPU is the scarcer resource.
    public func extensions(maxFrameSize: Int) -> [WebSocketExtensionFactory] {
        compression ? [.perMessageDeflate(compressionLevel: Self.compressionLevel, maxDecompressedFrameSize: maxFrameSize)] : []
    }

    /// zlib level of the gateway's permessage-deflate (1: best speed).
    static let compressionLevel = 1

    /// Dials `url` (through the proxy, wrapped in TLS for `wss://`) and, once the tunnel is ready,
    /// runs `configure` on the channel's event loop to add the application's handlers; returns
    /// what the future it gives completes with. Set-up past ``setupTimeout`` closes the channel.
    /// - Throws: ``UplinkConnectError`` for proxy, TLS and time-outs; NIO's errors for TCP.
    func connect<Output: Sendable>(
        to url: ServerURL,
        configure: @escaping @Sendable (any Channel) throws -> EventLoopFuture<Output>
    ) async throws -> Output {
        let target = proxy.map { ($0.url.host, $0.url.port) } ?? (url.host, url.port)
        let tls = url.secure ? try self.tls ?? Self.systemDefaultTLS() : nil
        let proxy = self.proxy
        let setupTimeout = self.setupTimeout
        let timer = SetupTimer()
        let ready: EventLoopFuture<Output> = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.nanoseconds(Int64(connectTimeout.nanoseconds)))
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .connect(host: target.0, port: target.1) { channel in
                // The outer future completes at once: the stages below need the connection up.
                channel.eventLoop.makeCompletedFuture {
                    let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(setupTimeout.nanoseconds))) {
                        timer.fired.store(true, ordering: .relaxed)
                        channel.close(promise: nil)
                    }
                    let tunnel = try Self.tunnel(channel: channel, to: url, proxy: proxy, timeout: setupTimeout)
                    let secured = tunnel.flatMapThrowing { () -> EventLoopFuture<Void> in
                        guard let tls else { return channel.eventLoop.makeSucceededVoidFuture() }
                        return try TLSHandshakeGate.install(on: channel, tls: tls, host: url.host)
                    }.flatMap { $0 }
                    let result = secured.flatMapThrowing { try configure(channel) }.flatMap { $0 }
                    result.whenComplete { _ in deadline.cancel() }
                    return result
                }
            }
        do {
            return try await ready.get()
        } catch {
            if timer.fired.load(ordering: .relaxed) { throw UplinkConnectError.setupTimedOut(milliseconds: setupTimeout.nanoseconds / 1_000_000) }
            if let proxy, let named = UplinkConnectError.classifyProxy(error, proxy: proxy.url) { throw named }
            if let named = UplinkConnectError.classifyTLS(error) { throw named }
            throw error
        }
    }

    /// The proxy stage: `CONNECT host:port` and its answer, then the HTTP codec is removed and the
    /// channel carries the tunnel. Completes at once without a proxy.
    private static func tunnel(channel: any Channel, to url: ServerURL, proxy: UplinkProxy?, timeout: Duration) throws -> EventLoopFuture<Void> {
        guard let proxy else { return channel.eventLoop.makeSucceededVoidFuture() }
        var headers = HTTPHeaders()
        let hostPart = url.host.contains(":") ? "[\(url.host)]" : url.host
        headers.add(name: "Host", value: "\(hostPart):\(url.port)")
        if let authorization = proxy.url.authorization { headers.add(name: "Proxy-Authorization", value: authorization) }
        let connected = channel.eventLoop.makePromise(of: Void.self)
        // Outbound parts pass the decoder (which learns the request was CONNECT) before the encoder.
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder(), name: "uplink.proxy.encoder")
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)), name: "uplink.proxy.decoder"
        )
        // The handler removes itself once the proxy answered 2xx.
        try channel.pipeline.syncOperations.addHandler(NIOHTTP1ProxyConnectHandler(
            targetHost: hostPart, targetPort: url.port, headers: headers,
            deadline: .now() + .nanoseconds(Int64(timeout.nanoseconds)), promise: connected
        ))
        return connected.futureResult.flatMap {
            channel.pipeline.removeHandler(name: "uplink.proxy.encoder").flatMap {
                channel.pipeline.removeHandler(name: "uplink.proxy.decoder")
            }
        }
    }

    /// TLS with the system trust store, for a `wss://` URL when none was built.
    private static func systemDefaultTLS() throws -> UplinkTLS {
        try UplinkTLS(UplinkTLSSettings())
    }
}

/// Whether the set-up deadline fired, read after the connection attempt failed.
private final class SetupTimer: Sendable {
    let fired = Atomic<Bool>(false)
}
