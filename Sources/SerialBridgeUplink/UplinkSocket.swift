import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOWebSocket
import WSClient
@_spi(WSInternal) import WSCore

/// The uplink's WebSocket client: the upgrade over an ``UplinkTransport`` (proxy tunnel, TLS with
/// pins), then swift-websocket's own frame handling (pings, close handshake, fragments,
/// permessage-deflate).
///
/// swift-websocket's `WebSocketClient` builds its TLS handler itself and takes no verification
/// callback, so pinning cannot be added to it; this type builds the pipeline and hands the
/// upgraded channel to the same `WebSocketHandler` the library uses (its `WSInternal` SPI, which
/// is why the package pins swift-websocket to 1.6.x). Errors match `WebSocketClient`'s: a refused
/// upgrade throws `WebSocketClientError.webSocketUpgradeFailed`.
public struct UplinkSocket: Sendable {
    /// What the connection handler is given besides the streams.
    public struct Context: WebSocketContext {
        /// The connection's logger.
        public let logger: Logger
        /// Names of the negotiated extensions, e.g. `["permessage-deflate"]`.
        public let extensions: [String]
        let channel: any Channel

        /// Closes the connection at once, without a close handshake: for a peer that cannot answer
        /// one (a dead link, a server silent since the upgrade), which would otherwise hold the
        /// connection for the whole close timeout.
        public func abort() {
            channel.close(promise: nil)
        }
    }

    private enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, [any WebSocketExtension])
        case refused
    }

    let url: ServerURL
    let configuration: WebSocketClientConfiguration
    let transport: UplinkTransport
    let logger: Logger
    let handler: WebSocketDataHandler<Context>

    /// Creates a client; nothing happens until ``run()``.
    /// - Parameter configuration: frame size, headers, auto-ping, close timeout and extensions;
    ///   its `sniHostname` is ignored (the transport's TLS settings decide).
    public init(
        url: ServerURL, configuration: WebSocketClientConfiguration, transport: UplinkTransport, logger: Logger,
        handler: @escaping WebSocketDataHandler<Context>
    ) {
        self.url = url
        self.configuration = configuration
        self.transport = transport
        self.logger = logger
        self.handler = handler
    }

    /// Connects, upgrades and runs the handler until the connection ends.
    /// - Returns: the server's close frame, if it sent one.
    /// - Throws: ``UplinkConnectError`` (proxy, TLS, set-up time), `WebSocketClientError`
    ///   (`webSocketUpgradeFailed` for a refused upgrade), or NIO's connect errors.
    @discardableResult
    public func run() async throws -> WebSocketCloseFrame? {
        let upgrade = try await transport.connect(to: url) { channel in
            try self.configureUpgrade(channel)
        }
        switch upgrade {
        case .refused:
            throw WebSocketClientError.webSocketUpgradeFailed
        case .websocket(let channel, let extensions):
            let names = extensions.map(\.name)
            if !names.isEmpty { logger.debug("WebSocket extensions negotiated: \(names.joined(separator: ", "))") }
            do {
                return try await withTaskExecutorPreference(EventLoopTaskExecutor(channel.channel.eventLoop)) {
                    try await WebSocketHandler.handle(
                    type: .client,
                    configuration: .init(
                        extensions: extensions,
                        autoPing: configuration.autoPing,
                        closeTimeout: configuration.closeTimeout,
                        validateUTF8: configuration.validateUTF8,
                        ignoreUncleanSSLShutdownErrors: configuration.ignoreUncleanSSLShutdownErrors,
                        maxFrameSize: configuration.maxFrameSize
                    ),
                    asyncChannel: channel,
                    context: Context(logger: logger, extensions: names, channel: channel.channel),
                    handler: handler
                    )
                }
            } catch {
                throw Self.publicError(for: error) ?? error
            }
        }
    }

    /// The handler ends a connection it closed over a protocol violation with an error of package
    /// visibility (`WebSocketHandler.InternalError.close(code)`); `WebSocketClient` turns it into
    /// its public errors, and so does this, so callers see the same errors either way.
    static func publicError(for error: any Error) -> WebSocketClientError? {
        guard String(reflecting: type(of: error)).hasSuffix("WebSocketHandler.InternalError"),
              let code = Mirror(reflecting: error).children.first?.value as? WebSocketErrorCode
        else { return nil }
        switch code {
        case .messageTooLarge: return .serverSentMessageTooLarge
        case .dataInconsistentWithMessage: return .serverSentDataInconsistentWithMessage
        default: return .serverProtocolError
        }
    }

    /// Adds the HTTP/1 upgrade to a ready tunnel (on its event loop); the request goes out at once.
    private func configureUpgrade(_ channel: any Channel) throws -> EventLoopFuture<Upgrade> {
        let extensionBuilders = configuration.extensions
        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(
            maxFrameSize: configuration.maxFrameSize,
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel)
                    let extensions = try extensionBuilders.buildClientExtensions(from: HTTPFields(head.headers, splitCookie: false))
                    return .websocket(asyncChannel, extensions)
                }
            }
        )
        var headers = HTTPHeaders()
        let hostPart = url.host.contains(":") ? "[\(url.host)]" : url.host
        let defaultPort = url.secure ? 443 : 80
        headers.add(name: "Host", value: url.port == defaultPort ? hostPart : "\(hostPart):\(url.port)")
        headers.add(contentsOf: HTTPHeaders(configuration.additionalHeaders))
        for offer in configuration.extensions.map({ $0.clientRequestHeader() }) where !offer.isEmpty {
            headers.add(name: "Sec-WebSocket-Extensions", value: offer)
        }
        let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path, headers: headers)
        let upgradeConfiguration = NIOTypedHTTPClientUpgradeConfiguration(
            upgradeRequestHead: request,
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(.refused) }
        )
        var pipelineConfiguration = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
        pipelineConfiguration.leftOverBytesStrategy = .forwardBytes
        return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipelineConfiguration)
    }
}
