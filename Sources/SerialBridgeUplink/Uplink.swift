import HTTPTypes
import Logging
import NIOCore
import NIOSSL
import NIOWebSocket
import SerialBridgeProtocol
import ServiceLifecycle
import Synchronization
import WSClient

#if canImport(Glibc)
import Glibc
#endif

/// The gateway's outbound WebSocket link: dials the server, says hello, sends every queued reading
/// until it is acknowledged, and redials with backoff whenever the link drops.
///
/// Runs as a service: on graceful shutdown it keeps the link until everything queued is
/// acknowledged (at most ``Configuration/drainTimeout``), then closes with 1001 (going away).
public final class Uplink: Service, Sendable {
    /// Link settings.
    public struct Configuration: Sendable {
        /// Server WebSocket URLs, tried in turn: a failed attempt or a short-lived connection moves
        /// on to the next, round the list.
        public var urls: [ServerURL]
        /// The first server URL.
        public var url: ServerURL {
            get { urls[0] }
            set { urls[0] = newValue }
        }
        /// Bearer token.
        public var token: String
        /// Gateway id, as the token was issued to.
        public var gateway: String
        /// Software version sent in `hello`.
        public var software: String
        /// Reconnect policy.
        public var backoff: Backoff
        /// A connection that stayed up this long resets the backoff.
        public var stableAfter: Duration
        /// The connect deadline: from dialling to `welcome` (TCP, proxy `CONNECT`, TLS, WebSocket
        /// upgrade, `hello`/`welcome`). A peer that accepts TCP and then says nothing is given up on
        /// after it, and redialled. Also bounds the transport's own set-up time.
        public var connectTimeout: Duration
        /// At a connection-age rollover, how long in-flight frames may take to be acknowledged.
        public var rolloverTimeout: Duration
        /// Where backoff waits, heartbeats, deadlines and connection age take their time from.
        public var clock: UplinkClock
        /// How long graceful shutdown waits for outstanding acknowledgements.
        public var drainTimeout: Duration
        /// Readings per write batch.
        public var batchSize: Int
        /// After a reading message, how long the sender waits before taking the next batch from
        /// the queue while readings trickle in (``LingerPolicy``): they then go out together every
        /// `linger` (one message, one ack, one deflate) instead of one by one, while a reading
        /// that finds the link idle, or a batch gathered upstream (a paced read tick, a poll),
        /// still goes at once. Zero: never wait.
        /// Real time, not ``clock``: it paces writes and decides nothing.
        public var linger: Duration
        /// The default ``linger``: 50 ms.
        public static let defaultLinger: Duration = .milliseconds(50)
        /// Proxy, TLS for wss:// (system trust store by default) and compression.
        public var transport: UplinkTransport
        /// A connection this old is replaced by a fresh one (nil: never), before a cloud front end
        /// cuts it: sending pauses, the in-flight frames are acknowledged, then the gateway closes
        /// with 1000 and redials at once.
        public var maxConnectionAge: Duration?
        /// Unanswered heartbeats after which the link is declared dead.
        public var allowedMissedBeats: Int

        /// Creates a configuration with sane defaults.
        public init(
            url: ServerURL, token: String, gateway: String, software: String,
            backoff: Backoff = Backoff(), stableAfter: Duration = .seconds(30),
            connectTimeout: Duration = .seconds(30), drainTimeout: Duration = .seconds(10),
            batchSize: Int = 256, transport: UplinkTransport = UplinkTransport(),
            fallbackURLs: [ServerURL] = [], maxConnectionAge: Duration? = nil, allowedMissedBeats: Int = 3,
            linger: Duration = defaultLinger, rolloverTimeout: Duration = .seconds(10), clock: UplinkClock = .continuous
        ) {
            self.linger = max(.zero, linger)
            self.urls = [url] + fallbackURLs
            self.maxConnectionAge = maxConnectionAge
            self.allowedMissedBeats = max(1, allowedMissedBeats)
            self.token = token
            self.gateway = gateway
            self.software = software
            self.backoff = backoff
            self.stableAfter = stableAfter
            self.connectTimeout = connectTimeout
            self.rolloverTimeout = rolloverTimeout
            self.clock = clock
            self.drainTimeout = drainTimeout
            self.batchSize = batchSize
            // The transport's set-up time (TCP to upgrade) is part of the connect deadline.
            var transport = transport
            transport.setupTimeout = min(transport.setupTimeout, connectTimeout)
            transport.connectTimeout = min(transport.connectTimeout, connectTimeout)
            self.transport = transport
        }
    }

    /// Link state, for status and tests.
    public enum LinkState: String, Sendable, CaseIterable {
        case connecting, up, waiting, stopped
    }

    private struct Shared {
        var state: LinkState = .connecting {
            didSet { health.state = state }
        }
        var health = LinkHealth()
        var draining = false
        var rolling = false
        var lastWritten: ReadingID?
        var ending: LinkHealth.Cause?
        var connections = 0
        /// On the uplink clock: when the drain gives up, and when the current connection came up.
        var drainDeadline: Duration?
        var connectedAt: Duration?
        /// Largest message sent, lowered after the server closed with 1009; nil: the welcome's.
        var messageCeiling: Int?
        var heartbeat = HeartbeatMonitor()
        var heartbeatInterval: Duration = .seconds(10)
        var messageLimits = (maxMessageBytes: 65_536, chunkBytes: 65_536)
        var wakeSleeper: CheckedContinuation<Void, Never>?
        var outOfBand: AsyncStream<Message>.Continuation?
        var commandHandler: CommandHandler?
        var tapHandler: TapHandler?
    }

    /// Runs a command the server sent and returns its result.
    public typealias CommandHandler = @Sendable (CommandRequest) async -> CommandResultMessage
    /// Starts (true) or stops (false) forwarding a device's raw traffic.
    public typealias TapHandler = @Sendable (_ device: String, _ start: Bool) -> Void

    /// How often a `link` report is sent while the link is up (and once right after `welcome`).
    public static let linkReportInterval: Duration = .seconds(30)

    /// The readings waiting to go.
    public let queue: OutboundQueue
    private let configuration: Configuration
    private let logger: Logger
    private let shared = Mutex(Shared())

    /// Creates an uplink sending from `queue`.
    public init(configuration: Configuration, queue: OutboundQueue, logger: Logger) {
        self.configuration = configuration
        self.queue = queue
        self.logger = logger
    }

    /// Current state.
    public var state: LinkState { shared.withLock { $0.state } }
    /// How long the current connection has been up (since `welcome`), on the uplink's clock;
    /// nil while the link is down.
    public var connectionUptime: Duration? {
        let connectedAt = shared.withLock { $0.state == .up ? $0.connectedAt : nil }
        return connectedAt.map { configuration.clock.now - $0 }
    }
    /// The link's health: state, round trips, endings by cause, traffic.
    public var health: LinkHealth { shared.withLock { $0.health } }

    /// Installs what runs the server's commands and taps.
    public func setDownlink(commands: @escaping CommandHandler, taps: @escaping TapHandler) {
        shared.withLock {
            $0.commandHandler = commands
            $0.tapHandler = taps
        }
    }

    /// Sends a message outside the spool (command results, tap data, link reports) if the link is
    /// up; returns false, dropping it, when it is not or its small buffer is full.
    @discardableResult
    public func sendOutOfBand(_ message: Message) -> Bool {
        guard let continuation = shared.withLock({ $0.state == .up ? $0.outOfBand : nil }) else { return false }
        if case .enqueued = continuation.yield(message) { return true }
        return false
    }

    /// The link report of right now.
    public func linkReport() -> LinkReport {
        let health = self.health
        let depth = queue.snapshot.depth
        return LinkReport(
            timestamp: Timestamp.nowMilliseconds(), rttLastMs: health.lastRoundTrip, rttMeanMs: health.meanRoundTrip,
            rttP99Ms: health.p99RoundTrip, missedBeats: Int64(health.totalMissedBeats),
            endings: health.endings.sorted { $0.key < $1.key }.map { ($0.key.rawValue, Int64($0.value)) },
            messagesOut: Int64(clamping: health.messagesOut), bytesOut: Int64(clamping: health.bytesOut),
            messagesIn: Int64(clamping: health.messagesIn), bytesIn: Int64(clamping: health.bytesIn), queueDepth: Int64(depth)
        )
    }

    /// The network came back (an interface went up or got an address): a waiting uplink redials
    /// at once instead of sleeping out its backoff.
    public func networkUp() {
        let sleeper = shared.withLock { shared -> CheckedContinuation<Void, Never>? in
            guard shared.state == .waiting else { return nil }
            defer { shared.wakeSleeper = nil }
            return shared.wakeSleeper
        }
        if let sleeper {
            logger.info("network up: redialling now")
            sleeper.resume()
        }
    }
    /// Connections that completed the hello/welcome handshake.
    public var connectionCount: Int { shared.withLock { $0.connections } }

    /// Runs until graceful shutdown (after draining) or cancellation, then closes the queue:
    /// the uplink stops last, so nothing is appended after the spool's final commit.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await self.connectLoop()
        } onGracefulShutdown: {
            self.beginDrain()
        }
        shared.withLock { $0.state = .stopped }
        queue.close()
    }

    private func beginDrain() {
        let sleeper = shared.withLock { shared -> CheckedContinuation<Void, Never>? in
            shared.draining = true
            shared.drainDeadline = configuration.clock.now + configuration.drainTimeout
            defer { shared.wakeSleeper = nil }
            return shared.wakeSleeper
        }
        sleeper?.resume()
    }

    private var isDraining: Bool { shared.withLock { $0.draining } }

    private func connectLoop() async {
        var backoff = configuration.backoff
        var random = SystemRandomNumberGenerator()
        var endpoint = 0
        let clock = configuration.clock
        while !Task.isCancelled {
            if isDraining {
                reportUndelivered()
                return
            }
            let url = configuration.urls[endpoint]
            shared.withLock {
                $0.state = .connecting
                $0.ending = nil
                $0.rolling = false
                $0.lastWritten = nil
                $0.health.server = url.description
            }
            let dialed = clock.now
            var wait = CloseReaction.Wait.backoff
            // A failure moves on to the next URL; a stable connection stays where it is.
            var nextURL = true
            var cause = LinkHealth.Cause.connectFailed
            do {
                let close = try await connectOnce(url, dialedAt: dialed)
                let stable = clock.now - dialed >= configuration.stableAfter
                if stable { backoff.reset() }
                if isDraining, queue.snapshot.depth == 0 { return }
                cause = shared.withLock { $0.ending } ?? (close == nil ? .dropped : .closedByServer)
                if cause == .connectionAge {
                    shared.withLock { $0.health.ended(cause) }
                    logger.info("connection to \(url) reached its maximum age; redialling at once")
                    continue
                }
                nextURL = !stable
                if cause == .closedByServer, let close {
                    let reaction = await react(to: close, from: url)
                    wait = reaction.wait
                    nextURL = nextURL || reaction.triesNextURL
                } else {
                    logger.warning("link to \(url) closed (\(cause.rawValue)); redialling")
                }
            } catch is LinkDeclaredDead {
                cause = .heartbeatTimeout
            } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
                cause = .refused
                let verdict = await AuthProbe.check(url, token: configuration.token, transport: configuration.transport)
                switch verdict {
                case .refused(let status, let reason):
                    wait = .cap
                    logger.error("server refused the token for gateway \"\(configuration.gateway)\": \(reason) (HTTP \(status) from \(url.authPath)); check the token file")
                case .accepted:
                    logger.error("server refused the WebSocket upgrade although it accepts the token: wrong path \(url.path), or the server is not a SerialBridge server")
                case .unexpected, .unreachable:
                    logger.error("server refused the WebSocket upgrade; server unavailable? (\(verdict))")
                }
            } catch {
                logger.warning("cannot connect to \(url): \(error)")
            }
            if nextURL, configuration.urls.count > 1 { endpoint = (endpoint + 1) % configuration.urls.count }
            shared.withLock { $0.health.ended(cause) }
            let delay = switch wait {
            case .brief: backoff.briefDelay(using: &random)
            case .backoff: backoff.nextDelay(using: &random)
            case .cap: backoff.capDelay(using: &random)
            }
            let next = configuration.urls.count > 1 ? " to \(configuration.urls[endpoint])" : ""
            logger.info("retrying\(next) in \(Self.format(delay)) (attempt \(backoff.attempts))")
            await sleep(delay)
        }
    }

    /// Logs a close the server sent, and does what its code calls for (docs/PROTOCOL.md#close-codes)
    /// apart from waiting and failing over, which the connect loop does.
    private func react(to close: WebSocketCloseFrame, from url: ServerURL) async -> CloseReaction {
        let code = UInt16(webSocketErrorCode: close.closeCode)
        let reaction = CloseReaction.of(code)
        shared.withLock {
            $0.health.lastCloseCode = Int(code)
            $0.health.serverCloses[Int(code), default: 0] += 1
        }
        let reason = close.reason.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
        let then = switch reaction.wait {
        case .brief: "redialling shortly"
        case .backoff: "redialling with backoff"
        case .cap: "waiting the longest backoff before redialling"
        }
        logger.log(level: reaction.level, "server closed the link to \(url) with \(code) (\(reaction.meaning))\(reason); \(then)")
        if reaction.asksAuthEndpoint {
            switch await AuthProbe.check(url, token: configuration.token, transport: configuration.transport) {
            case .refused(let status, let why):
                logger.error("server refused the token for gateway \"\(configuration.gateway)\": \(why) (HTTP \(status) from \(url.authPath)); check the token file")
            case .accepted:
                logger.error("the server accepts the token, so the policy it enforced is another: is gatewayId \"\(configuration.gateway)\" the id the token was issued to?")
            case let verdict:
                logger.error("could not ask the server why: \(verdict)")
            }
        }
        if reaction.shrinksMessages {
            let ceiling = shared.withLock { shared -> Int in
                let current = shared.messageCeiling ?? shared.messageLimits.maxMessageBytes
                shared.messageCeiling = max(Chunking.minimumChunkBytes, current / 2)
                return shared.messageCeiling ?? current
            }
            logger.error("the server's message limit is lower than its welcome said; sending messages of at most \(ceiling) bytes from now on")
        }
        return reaction
    }

    /// Sleeps on the uplink's clock, but wakes at once when graceful shutdown starts or the
    /// network comes back.
    private func sleep(_ delay: Duration) async {
        shared.withLock { $0.state = .waiting }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.configuration.clock.sleep(for: delay) }
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.shared.withLock { shared -> Bool in
                        if shared.draining { return true }
                        shared.wakeSleeper = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            await group.next()
            group.cancelAll()
            // Release whichever child still waits.
            shared.withLock { shared -> CheckedContinuation<Void, Never>? in
                defer { shared.wakeSleeper = nil }
                return shared.wakeSleeper
            }?.resume()
        }
    }

    private func reportUndelivered() {
        let depth = queue.snapshot.depth
        if depth > 0 {
            logger.warning("stopping with \(depth) readings not acknowledged by the server; they stay in the spool and are sent after the next start")
        }
    }

    private func connectOnce(_ url: ServerURL, dialedAt: Duration) async throws -> WebSocketCloseFrame? {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(configuration.token)"
        headers[.secWebSocketProtocol] = Subprotocol.name
        let clientConfiguration = WebSocketClientConfiguration(
            maxFrameSize: 1 << 20,
            additionalHeaders: headers,
            extensions: configuration.transport.extensions(maxFrameSize: 1 << 20),
            autoPing: .enabled(timePeriod: .seconds(30))
        )
        let client = UplinkSocket(
            url: url,
            configuration: clientConfiguration,
            transport: configuration.transport,
            logger: logger
        ) { inbound, outbound, context in
            try await self.session(url: url, dialedAt: dialedAt, inbound: inbound, outbound: outbound, context: context)
        }
        // The WebSocket library closes its connection the moment graceful shutdown starts, before
        // the uplink has drained. So the client runs outside the graceful-shutdown context (a
        // detached task does not inherit it), awaited at once and cancelled with this task; the
        // uplink's own watchdog closes the link once drained or at the drain deadline.
        let connection = Task.detached { try await client.run() }
        return try await withTaskCancellationHandler {
            try await connection.value
        } onCancel: {
            connection.cancel()
        }
    }

    /// One connection: hello → welcome → send and acknowledge until the link ends.
    private func session(
        url: ServerURL, dialedAt: Duration, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: UplinkSocket.Context
    ) async throws {
        let snapshot = queue.snapshot
        let hello = Hello(
            gateway: configuration.gateway, software: configuration.software,
            epoch: queue.epoch, lastSequence: snapshot.lastAssigned.sequence, dropped: Int64(clamping: snapshot.dropped)
        )
        try await write(.text(MessageCodec.encode(.hello(hello))), outbound)
        // One start signal per waiting task: an AsyncStream has a single consumer.
        let (sendingMayStart, startSending) = AsyncStream<Void>.makeStream()
        let (heartbeatsMayStart, startHeartbeats) = AsyncStream<Void>.makeStream()
        let (outOfBand, outOfBandInput) = AsyncStream<Message>.makeStream(bufferingPolicy: .bufferingOldest(1024))
        shared.withLock { $0.outOfBand = outOfBandInput }
        defer {
            shared.withLock { $0.outOfBand = nil }
            outOfBandInput.finish()
        }
        let clock = configuration.clock
        let deadlines = ConnectionWatch(
            dialedAt: dialedAt, connectTimeout: configuration.connectTimeout, openedAt: clock.now,
            maxAge: configuration.maxConnectionAge, settleTimeout: configuration.rolloverTimeout
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // The reader owns the inbound iterator: welcome first, then acks and heartbeats.
                var messages = inbound.messages(maxSize: MessageCodec.maxMessageBytes).makeAsyncIterator()
                guard let first = try await messages.next() else { return }
                self.countInbound(first)
                switch try await self.accept(welcome: first, url: url, outbound: outbound) {
                case .welcomed:
                    break
                case .rejected:
                    // The server said why in an `error`; its close code (next) decides the reaction.
                    // The connect deadline bounds the wait.
                    while let message = try await messages.next() { self.countInbound(message) }
                    return
                case .closed:
                    return
                }
                startSending.finish()
                startHeartbeats.finish()
                while let message = try await messages.next() {
                    self.countInbound(message)
                    try await self.handle(message, outbound: outbound)
                }
            }
            group.addTask {
                for await _ in sendingMayStart {}
                let limits = self.shared.withLock { shared -> (maxMessageBytes: Int, chunkBytes: Int) in
                    guard let ceiling = shared.messageCeiling else { return shared.messageLimits }
                    return (min(ceiling, shared.messageLimits.maxMessageBytes), min(ceiling, shared.messageLimits.chunkBytes))
                }
                var packer = MessagePacker(gateway: self.configuration.gateway, maxMessageBytes: limits.maxMessageBytes, chunkBytes: limits.chunkBytes)
                var lingering = LingerPolicy(linger: self.configuration.linger, batchSize: self.configuration.batchSize, appends: self.queue.appends)
                while !Task.isCancelled {
                    let asked = ContinuousClock.now
                    let batch = await self.queue.nextBatch(limit: self.configuration.batchSize)
                    let waited = ContinuousClock.now - asked
                    let appends = self.queue.appends
                    // Rolling over: frames read now go on the next connection (the rewind there
                    // starts after the last acknowledged one), so nothing is sent twice.
                    if self.shared.withLock({ $0.rolling }) { break }
                    self.shared.withLock { $0.health.framesOut &+= UInt64(batch.count) }
                    for message in packer.pack(batch) {
                        try await self.write(message, outbound)
                    }
                    if let last = batch.last?.id { self.shared.withLock { $0.lastWritten = last } }
                    if self.shared.withLock({ $0.rolling }) { break }
                    let unsent = Int(clamping: self.queue.spool.unsent)
                    if lingering.afterSending(count: batch.count, waited: waited, appends: appends, unsent: unsent) {
                        try await Task.sleep(for: self.configuration.linger)
                    }
                }
                // Rolling over to a fresh connection: send nothing more on this one.
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(3600))
                }
            }
            group.addTask {
                // Messages outside the spool: command results, tap data, link reports.
                for await message in outOfBand {
                    try await self.write(.text(MessageCodec.encode(message)), outbound)
                }
            }
            group.addTask {
                // Heartbeats: a silent half-open link is declared dead after missed pongs.
                for await _ in heartbeatsMayStart {}
                self.sendOutOfBand(.link(self.linkReport()))
                var lastReport = clock.now
                while !Task.isCancelled {
                    if clock.now - lastReport >= Self.linkReportInterval {
                        self.sendOutOfBand(.link(self.linkReport()))
                        lastReport = clock.now
                    }
                    let interval = self.shared.withLock { $0.heartbeatInterval }
                    try await clock.sleep(for: interval)
                    let action = self.shared.withLock { shared -> HeartbeatMonitor.Action in
                        let action = shared.heartbeat.tick()
                        shared.health.missedBeats = max(0, shared.heartbeat.outstanding - 1)
                        if shared.heartbeat.outstanding > 1, case .sendPing = action { shared.health.totalMissedBeats += 1 }
                        return action
                    }
                    switch action {
                    case .sendPing:
                        let ping = Heartbeat(timestamp: Timestamp.nowMilliseconds())
                        try await self.write(.text(MessageCodec.encode(.ping(ping))), outbound)
                    case .declareDead(let missed):
                        self.logger.warning("link dead: \(missed) heartbeats unanswered; redialling")
                        self.shared.withLock {
                            $0.ending = .heartbeatTimeout
                            $0.health.totalMissedBeats += 1
                        }
                        // The peer cannot hear a close on a dead link: end the connection here.
                        context.abort()
                        throw LinkDeclaredDead()
                    }
                }
            }
            group.addTask {
                // Watchdog: the connect deadline, the connection's age, a finished drain.
                var watch = deadlines
                while !Task.isCancelled {
                    let (rolling, draining) = self.shared.withLock { ($0.rolling, $0.drainDeadline != nil) }
                    try await clock.sleep(for: watch.nextTick(now: clock.now, busy: rolling || draining))
                    let (up, deadline) = self.shared.withLock { ($0.state == .up, $0.drainDeadline) }
                    let action = watch.check(
                        now: clock.now, up: up, drainDeadline: deadline,
                        depth: self.queue.snapshot.depth, settled: self.inFlightSettled()
                    )
                    switch action {
                    case .wait:
                        continue
                    case .giveUp:
                        self.logger.error("no welcome from \(url) within \(Self.format(self.configuration.connectTimeout)) of dialling (uplink.connectTimeoutMs); giving up on this connection")
                        self.shared.withLock { $0.ending = .connectFailed }
                        try? await outbound.close(.protocolError, reason: "no welcome")
                        // A silent server would not answer the close: do not wait for it.
                        context.abort()
                        return
                    case .stopSending:
                        // Stop the sender, then judge what is in flight at the next tick.
                        self.shared.withLock { $0.rolling = true }
                    case .closeForAge:
                        self.shared.withLock { $0.ending = .connectionAge }
                        try await outbound.close(.normalClosure, reason: "connection age")
                        return
                    case .closeForShutdown(let drained):
                        let depth = drained ? 0 : self.queue.snapshot.depth
                        self.logger.info("closing the link for shutdown: \(drained ? "everything acknowledged" : "\(depth) readings not acknowledged within \(Self.format(self.configuration.drainTimeout))")")
                        try await outbound.close(.goingAway, reason: "gateway shutting down")
                        return
                    }
                }
            }
            // Whichever ends first (link closed, write failed, drained) ends the connection.
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// How the server answered `hello`.
    private enum Greeting {
        /// `welcome`: sending may start.
        case welcomed
        /// An `error`: the server closes next.
        case rejected
        /// Something else: the gateway closed with 1002.
        case closed
    }

    /// Whether every frame written on this connection is acknowledged (a rollover may close).
    private func inFlightSettled() -> Bool {
        guard let written = shared.withLock({ $0.lastWritten }) else { return true }
        return queue.snapshot.acknowledged.map { $0 >= written } ?? false
    }

    /// Handles the server's first message.
    private func accept(welcome message: WebSocketMessage, url: ServerURL, outbound: WebSocketOutboundWriter) async throws -> Greeting {
        switch Self.decode(message) {
        case .welcome(let welcome)?:
            if let acked = welcome.acked {
                if acked.epoch > queue.epoch {
                    logger.error("the server holds readings up to \(acked), from an epoch above this run's \(queue.epoch): the state directory's epoch file was lost or restored from an old copy; set it above \(acked.epoch) or identities will collide")
                }
                queue.acknowledge(upTo: acked)
            }
            queue.rewind()
            shared.withLock {
                $0.state = .up
                $0.connections += 1
                $0.health.connections += 1
                $0.health.upSince = Timestamp.nowMilliseconds()
                $0.connectedAt = configuration.clock.now
                $0.health.missedBeats = 0
                $0.heartbeat = HeartbeatMonitor(allowedMisses: configuration.allowedMissedBeats)
                $0.heartbeatInterval = .milliseconds(max(100, welcome.heartbeatMs))
                $0.messageLimits = (Int(clamping: welcome.maxMessageBytes), Int(clamping: welcome.chunkBytes))
            }
            let held = welcome.acked.map { "\($0)" } ?? "nothing yet"
            logger.info("link up: \(url), protocol \(welcome.protocolVersion), server holds up to \(held)")
            return .welcomed
        case .error(let error)?:
            logger.error("server rejected hello: \(error.code): \(error.message)")
            return .rejected
        default:
            logger.error("expected welcome from the server, got another message; closing")
            shared.withLock { $0.ending = .protocolError }
            try await outbound.close(.protocolError, reason: nil)
            return .closed
        }
    }

    private func handle(_ message: WebSocketMessage, outbound: WebSocketOutboundWriter) async throws {
        switch Self.decode(message) {
        case .ack(let ack)?:
            queue.acknowledge(upTo: ack.id)
        case .ping(let beat)?:
            let pong = Heartbeat(timestamp: beat.timestamp, serverTimestamp: nil)
            try await write(.text(MessageCodec.encode(.pong(pong))), outbound)
        case .pong(let beat)?:
            let now = Timestamp.nowMilliseconds()
            let rtt = shared.withLock { shared -> Int64? in
                shared.heartbeat.pongReceived(sentAt: beat.timestamp, now: now)
                shared.health.missedBeats = 0
                if let rtt = shared.heartbeat.lastRTTMilliseconds { shared.health.recordRoundTrip(milliseconds: rtt) }
                return shared.heartbeat.lastRTTMilliseconds
            }
            logger.trace("heartbeat round trip \(rtt ?? 0) ms")
        case .command(let request)?:
            guard let handler = shared.withLock({ $0.commandHandler }) else {
                sendOutOfBand(.commandResult(CommandResultMessage(id: request.id, device: request.device, status: .failed, message: "this gateway runs no commands")))
                break
            }
            logger.info("command \(request.name) for \(request.device) from the server", metadata: ["device": .string(request.device)])
            Task {
                let result = await handler(request)
                self.sendOutOfBand(.commandResult(result))
            }
        case .tapStart(let tap)?:
            shared.withLock { $0.tapHandler }?(tap.device, true)
        case .tapStop(let tap)?:
            shared.withLock { $0.tapHandler }?(tap.device, false)
        case .error(let error)?:
            logger.error("server reported \(error.code): \(error.message)")
        case .none:
            logger.warning("ignored an undecodable message from the server")
        default:
            break
        }
    }

    /// Writes one message and counts it.
    private func write(_ message: MessagePacker.Outgoing, _ outbound: WebSocketOutboundWriter) async throws {
        let size: Int
        switch message {
        case .text(let bytes):
            size = bytes.count
            try await outbound.write(Self.textFrame(bytes))
        case .binary(let bytes):
            size = bytes.count
            try await outbound.write(Self.binaryFrame(bytes))
        }
        shared.withLock {
            $0.health.messagesOut &+= 1
            $0.health.bytesOut &+= UInt64(size)
        }
    }

    private func countInbound(_ message: WebSocketMessage) {
        let size: Int
        switch message {
        case .text(let text): size = text.utf8.count
        case .binary(let buffer): size = buffer.readableBytes
        }
        shared.withLock {
            $0.health.messagesIn &+= 1
            $0.health.bytesIn &+= UInt64(size)
        }
    }

    static func decode(_ message: WebSocketMessage) -> Message? {
        guard case .text(let text) = message else { return nil }
        return try? MessageCodec.decode(text.utf8)
    }

    static func textFrame(_ bytes: [UInt8]) -> WebSocketOutboundWriter.OutboundFrame {
        .custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes)))
    }

    static func binaryFrame(_ bytes: [UInt8]) -> WebSocketOutboundWriter.OutboundFrame {
        .custom(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: bytes)))
    }


    /// Round-trip time of the last answered heartbeat, in milliseconds.
    public var lastRoundTripMilliseconds: Int64? { shared.withLock { $0.heartbeat.lastRTTMilliseconds } }

    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.nanoseconds / 1_000_000
        return milliseconds >= 1000 ? "\(Double(milliseconds / 100) / 10)s" : "\(milliseconds)ms"
    }
}

/// Thrown out of a connection whose heartbeats went unanswered, to end it at once.
struct LinkDeclaredDead: Error {}
