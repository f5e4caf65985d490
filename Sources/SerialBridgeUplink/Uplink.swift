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
        /// How long to wait for `welcome` after `hello`.
        public var handshakeTimeout: Duration
        /// How long graceful shutdown waits for outstanding acknowledgements.
        public var drainTimeout: Duration
        /// Readings per write batch.
        public var batchSize: Int
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
            handshakeTimeout: Duration = .seconds(10), drainTimeout: Duration = .seconds(10),
            batchSize: Int = 256, transport: UplinkTransport = UplinkTransport(),
            fallbackURLs: [ServerURL] = [], maxConnectionAge: Duration? = nil, allowedMissedBeats: Int = 3
        ) {
            self.urls = [url] + fallbackURLs
            self.maxConnectionAge = maxConnectionAge
            self.allowedMissedBeats = max(1, allowedMissedBeats)
            self.token = token
            self.gateway = gateway
            self.software = software
            self.backoff = backoff
            self.stableAfter = stableAfter
            self.handshakeTimeout = handshakeTimeout
            self.drainTimeout = drainTimeout
            self.batchSize = batchSize
            self.transport = transport
        }
    }

    /// Link state, for status and tests.
    public enum LinkState: String, Sendable {
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
        var drainDeadline: ContinuousClock.Instant?
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
            shared.drainDeadline = .now + configuration.drainTimeout
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
            let started = ContinuousClock.now
            var refusedToken = false
            var cause = LinkHealth.Cause.connectFailed
            do {
                let close = try await connectOnce(url)
                let lasted = ContinuousClock.now - started
                if lasted >= configuration.stableAfter { backoff.reset() }
                if isDraining, queue.snapshot.depth == 0 { return }
                cause = shared.withLock { $0.ending } ?? (close == nil ? .dropped : .closedByServer)
                if let close {
                    shared.withLock { $0.health.lastCloseCode = Int(UInt16(webSocketErrorCode: close.closeCode)) }
                }
                let code = close.map { " with \(Self.describe($0.closeCode))\($0.reason.map { ": \($0)" } ?? "")" } ?? ""
                if cause == .connectionAge {
                    shared.withLock { $0.health.ended(cause) }
                    logger.info("connection to \(url) reached its maximum age; redialling at once")
                    continue
                }
                logger.warning("link to \(url) closed\(code) (\(cause.rawValue)); redialling")
                if lasted < configuration.stableAfter, configuration.urls.count > 1 { endpoint = (endpoint + 1) % configuration.urls.count }
            } catch is LinkDeclaredDead {
                cause = .heartbeatTimeout
                if configuration.urls.count > 1 { endpoint = (endpoint + 1) % configuration.urls.count }
            } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
                cause = .refused
                let verdict = await AuthProbe.check(url, token: configuration.token, transport: configuration.transport)
                switch verdict {
                case .refused(let status, let reason):
                    refusedToken = true
                    logger.error("server refused the token for gateway \"\(configuration.gateway)\": \(reason) (HTTP \(status) from \(url.authPath)); check the token file")
                case .accepted:
                    logger.error("server refused the WebSocket upgrade although it accepts the token: wrong path \(url.path), or the server is not a SerialBridge server")
                case .unexpected, .unreachable:
                    logger.error("server refused the WebSocket upgrade; server unavailable? (\(verdict))")
                }
                if configuration.urls.count > 1 { endpoint = (endpoint + 1) % configuration.urls.count }
            } catch {
                logger.warning("cannot connect to \(url): \(error)")
                if configuration.urls.count > 1 { endpoint = (endpoint + 1) % configuration.urls.count }
            }
            shared.withLock { $0.health.ended(cause) }
            let delay = refusedToken ? backoff.capDelay(using: &random) : backoff.nextDelay(using: &random)
            let next = configuration.urls.count > 1 ? " to \(configuration.urls[endpoint])" : ""
            logger.info("retrying\(next) in \(Self.format(delay)) (attempt \(backoff.attempts))")
            await sleep(delay)
        }
    }

    static func describe(_ code: WebSocketErrorCode) -> String {
        switch code {
        case .normalClosure: "1000 (normal)"
        case .goingAway: "1001 (going away)"
        case .protocolError: "1002 (protocol error)"
        case .dataInconsistentWithMessage: "1007 (invalid data)"
        case .policyViolation: "1008 (policy violation)"
        case .messageTooLarge: "1009 (message too large)"
        case .unexpectedServerError: "1011 (server error)"
        default: "\(UInt16(webSocketErrorCode: code))"
        }
    }

    /// Sleeps, but wakes at once when graceful shutdown starts.
    private func sleep(_ delay: Duration) async {
        shared.withLock { $0.state = .waiting }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: delay) }
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

    private func connectOnce(_ url: ServerURL) async throws -> WebSocketCloseFrame? {
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
        ) { inbound, outbound, _ in
            try await self.session(url: url, inbound: inbound, outbound: outbound)
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
    private func session(url: ServerURL, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
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
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // The reader owns the inbound iterator: welcome first, then acks and heartbeats.
                var messages = inbound.messages(maxSize: MessageCodec.maxMessageBytes).makeAsyncIterator()
                guard let first = try await messages.next() else { return }
                self.countInbound(first)
                guard try await self.accept(welcome: first, url: url, outbound: outbound) else { return }
                startSending.finish()
                startHeartbeats.finish()
                while let message = try await messages.next() {
                    self.countInbound(message)
                    try await self.handle(message, outbound: outbound)
                }
            }
            group.addTask {
                for await _ in sendingMayStart {}
                let limits = self.shared.withLock { $0.messageLimits }
                var packer = MessagePacker(gateway: self.configuration.gateway, maxMessageBytes: limits.maxMessageBytes, chunkBytes: limits.chunkBytes)
                while !Task.isCancelled {
                    let batch = await self.queue.nextBatch(limit: self.configuration.batchSize)
                    // Rolling over: frames read now go on the next connection (the rewind there
                    // starts after the last acknowledged one), so nothing is sent twice.
                    if self.shared.withLock({ $0.rolling }) { break }
                    self.shared.withLock { $0.health.framesOut &+= UInt64(batch.count) }
                    for message in packer.pack(batch.map(\.bytes)) {
                        try await self.write(message, outbound)
                    }
                    if let last = batch.last?.id { self.shared.withLock { $0.lastWritten = last } }
                    if self.shared.withLock({ $0.rolling }) { break }
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
                var lastReport = ContinuousClock.now
                while !Task.isCancelled {
                    if ContinuousClock.now - lastReport >= Self.linkReportInterval {
                        self.sendOutOfBand(.link(self.linkReport()))
                        lastReport = .now
                    }
                    let interval = self.shared.withLock { $0.heartbeatInterval }
                    try await Task.sleep(for: interval)
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
                        throw LinkDeclaredDead()
                    }
                }
            }
            group.addTask {
                // Watchdog: a missing welcome, a finished drain or the connection's age ends it.
                var rolloverDeadline: ContinuousClock.Instant?
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(20))
                    let (up, deadline) = self.shared.withLock { ($0.state == .up, $0.drainDeadline) }
                    if !up, ContinuousClock.now - started > self.configuration.handshakeTimeout {
                        self.logger.error("no welcome from the server within \(Self.format(self.configuration.handshakeTimeout)); closing")
                        self.shared.withLock { $0.ending = .protocolError }
                        try await outbound.close(.protocolError, reason: "no welcome")
                        return
                    }
                    if up, deadline == nil, let age = self.configuration.maxConnectionAge, ContinuousClock.now - started >= age {
                        if rolloverDeadline == nil {
                            // Stop the sender, then judge what is in flight at the next tick.
                            self.shared.withLock { $0.rolling = true }
                            rolloverDeadline = .now + self.configuration.handshakeTimeout
                            continue
                        }
                        // In flight: written on this connection and not yet acknowledged.
                        let written = self.shared.withLock { $0.lastWritten }
                        let acknowledged = self.queue.snapshot.acknowledged
                        let settled = written.map { last in acknowledged.map { $0 >= last } ?? false } ?? true
                        if settled || ContinuousClock.now >= (rolloverDeadline ?? .now) {
                            self.shared.withLock { $0.ending = .connectionAge }
                            try await outbound.close(.normalClosure, reason: "connection age")
                            return
                        }
                    }
                    if let deadline, up {
                        let depth = self.queue.snapshot.depth
                        if depth == 0 || ContinuousClock.now >= deadline {
                            self.logger.info("closing the link for shutdown: \(depth == 0 ? "everything acknowledged" : "\(depth) readings not acknowledged within \(Self.format(self.configuration.drainTimeout))")")
                            try await outbound.close(.goingAway, reason: "gateway shutting down")
                            return
                        }
                    }
                }
            }
            // Whichever ends first (link closed, write failed, drained) ends the connection.
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// Handles the server's first message; true when it is a welcome and sending may start.
    private func accept(welcome message: WebSocketMessage, url: ServerURL, outbound: WebSocketOutboundWriter) async throws -> Bool {
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
                $0.health.missedBeats = 0
                $0.heartbeat = HeartbeatMonitor(allowedMisses: configuration.allowedMissedBeats)
                $0.heartbeatInterval = .milliseconds(max(100, welcome.heartbeatMs))
                $0.messageLimits = (Int(clamping: welcome.maxMessageBytes), Int(clamping: welcome.chunkBytes))
            }
            let held = welcome.acked.map { "\($0)" } ?? "nothing yet"
            logger.info("link up: \(url), protocol \(welcome.protocolVersion), server holds up to \(held)")
            return true
        case .error(let error)?:
            logger.error("server rejected hello: \(error.code): \(error.message)")
            shared.withLock { $0.ending = .protocolError }
            try await outbound.close(.policyViolation, reason: nil)
            return false
        default:
            logger.error("expected welcome from the server, got another message; closing")
            shared.withLock { $0.ending = .protocolError }
            try await outbound.close(.protocolError, reason: nil)
            return false
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
            logger.info("command \(request.name) for \(request.device) from the server")
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
