import SerialBridgeJSON
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWSCompression
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import SerialBridgeProtocol

/// Everything the server needs to start.
public struct ServerOptions: Sendable {
    /// Address to listen on.
    public var host: String
    /// Port (0 picks a free one; see `onRunning`).
    public var port: Int
    /// Where readings and the rest are stored: a SQLite file or a PostgreSQL database.
    public var database: ServerDatabase
    /// The SQLite file, when the database is one (setting it selects SQLite).
    public var databasePath: String {
        get {
            if case .sqlite(let path) = database { return path }
            return ""
        }
        set { database = .sqlite(path: newValue) }
    }
    /// Gateway tokens (replaced by the database's when ``tokensFromDatabase`` is set).
    public var tokens: TokenStore
    /// Take the gateway tokens from the PostgreSQL database instead of ``tokens``
    /// (`serve --database postgres://…`): every instance sharing it accepts the same tokens and sees
    /// a revocation within a poll interval. Needs a PostgreSQL ``database``.
    public var tokensFromDatabase = false
    /// Heartbeat interval announced in `welcome`.
    public var heartbeatMs: Int64
    /// Largest WebSocket message accepted whole (announced in `welcome` as the chunk size too).
    public var maxMessageBytes: Int
    /// Largest message accepted in chunks.
    public var maxChunkedMessageBytes: Int
    /// The connected gateways (commands and taps go through it).
    public var registry: GatewayRegistry
    /// What dashboards receive live.
    public var feed: LiveFeed
    /// TLS (HTTPS and wss://) when set; see ``ServerTLS``.
    public var tls: TLSConfiguration?
    /// Accept permessage-deflate when a client offers it.
    public var compression: Bool
    /// Heartbeat intervals without a word from a gateway before it is marked offline and its
    /// connection closed (4001).
    public var missedHeartbeats: Int
    /// Readings (and device events) each gateway may send per second; nil for no limit. A gateway
    /// over it is paced, not refused: its spool holds what waits.
    public var gatewayRateLimit: RateLimit?
    /// Prometheus metrics, served at `/metrics`.
    public var metrics: ServerMetrics
    /// How long readings, events, command results and rollups are kept (docs/API.md, "Retention").
    public var retention: RetentionPolicy = .standard
    /// People: users, admin token, sessions, allowed origins (see ``AuthOptions``).
    public var auth = AuthOptions()
    /// Several instances as one, through PostgreSQL (``PostgresBus``, docs/DEPLOYMENT.md); nil
    /// for a server on its own (``LocalBus``).
    public var cluster: ClusterOptions?

    /// Creates options.
    public init(
        host: String = "127.0.0.1", port: Int = 8080, databasePath: String, tokens: TokenStore, heartbeatMs: Int64 = 10_000,
        maxMessageBytes: Int = 65_536, maxChunkedMessageBytes: Int = 16 << 20,
        tls: TLSConfiguration? = nil, compression: Bool = true,
        missedHeartbeats: Int = 3, gatewayRateLimit: RateLimit? = RateLimit(perSecond: 5_000, burst: 50_000)
    ) {
        self.missedHeartbeats = missedHeartbeats
        self.gatewayRateLimit = gatewayRateLimit
        self.metrics = ServerMetrics()
        self.maxMessageBytes = maxMessageBytes
        self.maxChunkedMessageBytes = maxChunkedMessageBytes
        self.registry = GatewayRegistry()
        self.feed = LiveFeed()
        self.host = host
        self.port = port
        self.database = .sqlite(path: databasePath)
        self.tokens = tokens
        self.heartbeatMs = heartbeatMs
        self.tls = tls
        self.compression = compression
    }
}

/// Builds the server: gateway WebSocket endpoint, auth check, JSON API, dashboard and live feed.
public enum ServerApplication {
    /// The server's services, to run in one `ServiceGroup`: the HTTP application, then what must
    /// stop before it. A group shuts its services down last first, so on SIGTERM gateway links are
    /// closed with 1001 (they reconnect elsewhere) before Hummingbird would close them with 1000.
    public static func services(
        options: ServerOptions, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> [any Service] {
        try services(options: options, storage: openSynchronously(options.database), logger: logger, onRunning: onRunning)
    }

    /// The server's services on a storage opened beforehand (``ServerDatabase/open(logger:)``): the
    /// storage's own services (PostgreSQL's connection pool) first, so that they stop last.
    public static func services(
        options: ServerOptions, storage: OpenedStorage, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> [any Service] {
        var options = options
        var credentialServices: [any Service] = []
        if options.tokensFromDatabase || options.auth.usersFromDatabase {
            guard let credentials = storage.credentials else {
                throw ServerConfigError("gateway tokens and users can be kept in the database only with PostgreSQL (--database postgres://…)")
            }
            if options.tokensFromDatabase { options.tokens = credentials.tokens }
            if options.auth.usersFromDatabase {
                guard options.auth.usersFile == nil else {
                    throw ServerConfigError("users come from the database or from a users file, not both")
                }
                options.auth.databaseUsers = credentials.users
            }
            // After the storage (whose pool it polls through), so that it stops before it.
            credentialServices = [credentials]
        }
        if let postgres = storage.storage as? PostgresStorage {
            // Shared sessions: a browser may reach any instance, no cookie affinity needed.
            options.auth.databaseSessions = PostgresSessions(storage: postgres, limits: options.auth.sessions, clock: options.auth.clock)
        }
        let app = try make(options: options, store: storage.storage, logger: logger, onRunning: onRunning)
        return storage.services + credentialServices + [app, GatewayLinkCloser(registry: options.registry, feed: options.feed, logger: logger)]
    }

    /// A SQLite storage opened here; a PostgreSQL one must be opened (connected, migrated) first.
    private static func openSynchronously(_ database: ServerDatabase) throws -> OpenedStorage {
        guard case .sqlite(let path) = database else {
            throw ServerConfigError("a PostgreSQL database is opened with ServerDatabase.open(logger:) before the server is made")
        }
        return OpenedStorage(storage: try SQLiteStorage(path: path), services: [])
    }

    /// Creates the Hummingbird application. `onRunning` receives the bound port.
    public static func make(
        options: ServerOptions, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        try make(options: options, store: openSynchronously(options.database).storage, logger: logger, onRunning: onRunning)
    }

    /// Creates the Hummingbird application on `store`. `onRunning` receives the bound port.
    public static func make(
        options: ServerOptions, store: any ServerStorage, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let feed = options.feed
        let (bus, busServices) = makeBus(options: options, store: store, logger: logger)
        let ingest = GatewayIngest(
            store: store, bus: bus, registry: options.registry, metrics: options.metrics, heartbeatMs: options.heartbeatMs,
            missedHeartbeats: options.missedHeartbeats, rateLimit: options.gatewayRateLimit,
            maxMessageBytes: options.maxMessageBytes, chunkLimits: ChunkReassembler.Limits(maxMessageBytes: options.maxChunkedMessageBytes)
        )
        let tokens = options.tokens
        let gatewayChannels = GatewayChannels()
        let authenticator = try ServerAuthenticator(options: options.auth, host: options.host, tls: options.tls != nil, logger: logger)
        let router = Router(context: ServerRequestContext.self)
        // First, so that it covers every route added after it (and unknown paths).
        router.add(middleware: AuthMiddleware(authenticator: authenticator))
        LoginRoutes.add(to: router, authenticator: authenticator)
        addRoutes(to: router, tokens: tokens, bus: bus)
        let metrics = options.metrics
        router.get("/metrics") { _, _ in
            metrics.update(from: feed)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render()))
            )
        }
        let api = APIEnvironment(storage: store, registry: options.registry, retention: options.retention, logger: logger, bus: bus)
        APIRoutes.addReadRoutes(to: router, api)
        // Commands and taps act on devices: a logged-in user (or the open loopback server) only.
        ControlRoutes.add(to: router.group().add(middleware: RequireUser()), api)
        let wsConfiguration = WebSocketServerConfiguration(
            maxFrameSize: options.maxMessageBytes,
            extensions: options.compression ? [.perMessageDeflate(maxDecompressedFrameSize: options.maxMessageBytes)] : []
        )
        let upgrade = HTTPServerBuilder.http1WebSocketUpgrade(configuration: .init(ws: wsConfiguration)) { request, channel, logger in
            let path = request.path.map { $0.split(separator: "?", maxSplits: 1).first.map(String.init) ?? $0 } ?? ""
            switch path {
            case "/gateway/v1":
                switch tokens.check(authorization: request.headerFields[.authorization], logger: logger) {
                case .accepted where !Subprotocol.offered(in: request.headerFields[.secWebSocketProtocol]):
                    logger.warning("refused gateway upgrade: the client did not offer subprotocol \(Subprotocol.name)")
                    return .dontUpgrade
                case .accepted(let gateway):
                    gatewayChannels.add(gateway, channel)
                    return .upgrade([.secWebSocketProtocol: Subprotocol.name]) { inbound, outbound, context in
                        try await ingest.serve(gateway: gateway, inbound: inbound, outbound: outbound, logger: context.logger)
                    }
                case .refused(let reason):
                    logger.warning("refused gateway upgrade: \(reason)")
                    return .dontUpgrade
                }
            case "/live":
                let client = channel.remoteAddress?.ipAddress ?? "unknown"
                if case .refused(let reason) = await authenticator.checkLive(request, client: client) {
                    logger.warning("refused /live upgrade from \(client): \(reason)")
                    return .dontUpgrade
                }
                return .upgrade([:]) { inbound, outbound, _ in
                    await serveLive(feed: feed, inbound: inbound, outbound: outbound)
                }
            default:
                return .dontUpgrade
            }
        }
        return Application(
            router: router,
            server: try options.tls.map { try .tls(upgrade, tlsConfiguration: $0) } ?? upgrade,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "serialbridge-server"),
            // The bus first: the application's group stops it last, after the gateways' links.
            services: busServices + [RetentionService(storage: store, policy: options.retention, logger: logger)] + (
                // Only a token file or the database can change under a running server.
                !tokens.followsChanges ? [] : [
                    TokenRevocationWatcher(
                        tokens: tokens, registry: options.registry, channels: gatewayChannels,
                        interval: options.auth.tokenRecheckInterval, grace: options.auth.revocationGrace, logger: logger
                    ),
                ]
            ),
            onServerRunning: { channel in
                await onRunning(channel.localAddress?.port ?? options.port)
            },
            logger: logger
        )
    }

    /// The cluster bus of `options` (a ``LocalBus`` without ``ServerOptions/cluster``) and the
    /// services it needs run.
    static func makeBus(options: ServerOptions, store: any ServerStorage, logger: Logger) -> (any ClusterBus, [any Service]) {
        guard let cluster = options.cluster else { return (LocalBus(feed: options.feed, registry: options.registry), []) }
        let bus = PostgresBus(options: cluster, feed: options.feed, registry: options.registry, logger: logger) { gateway, at, reason in
            do {
                try await store.recordGatewayEvent(gateway: gateway, kind: .offline, at: at, reason: reason)
            } catch {
                logger.error("cannot store gateway \(gateway)'s offline event: \(error)")
            }
        }
        return (bus, [bus])
    }

    static func addRoutes(to router: Router<ServerRequestContext>, tokens: TokenStore, bus: any ClusterBus) {
        DashboardAssets.register(on: router)
        router.get("/healthz") { _, _ in json(.ok, health(bus)) }
        router.get("/gateway/v1/auth") { request, context in
            switch tokens.check(authorization: request.headers[.authorization], logger: context.logger) {
            case .accepted where request.headers[.secWebSocketProtocol] != nil && !Subprotocol.offered(in: request.headers[.secWebSocketProtocol]):
                return json(.badRequest, errorBody("the gateway must offer WebSocket subprotocol \(Subprotocol.name)"))
            case .accepted(let gateway):
                var writer = JSONWriter()
                writer.beginObject()
                writer.key("ok"); writer.bool(true)
                writer.key("gateway"); writer.string(gateway)
                writer.endObject()
                return json(.ok, String(decoding: writer.bytes, as: UTF8.self))
            case .refused(let reason):
                return json(.unauthorized, errorBody(reason))
            }
        }
        // A plain GET on the WebSocket path (no upgrade) explains itself.
        router.get("/gateway/v1") { _, _ in
            json(.badRequest, errorBody("this is the gateway WebSocket endpoint; connect with a WebSocket upgrade and a Bearer token"))
        }
    }

    /// `{"status":"ok"}`, and for a clustered instance its id and whether its bus listens:
    /// the process is up either way (a database outage should not take every instance out of a
    /// load balancer at once).
    static func health(_ bus: any ClusterBus) -> String {
        guard let bus = bus as? PostgresBus else { return "{\"status\":\"ok\"}" }
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("status"); writer.string("ok")
        writer.key("instance"); writer.string(bus.instanceID)
        writer.key("bus"); writer.string(bus.isListening ? "listening" : "reconnecting")
        writer.key("busDropped"); writer.integer(Int64(bus.dropped))
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func errorBody(_ reason: String) -> String {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("error"); writer.string(reason)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
