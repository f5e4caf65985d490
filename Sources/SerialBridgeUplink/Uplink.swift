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
        /// Server WebSocket URL.
        public var url: ServerURL
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

        /// Creates a configuration with sane defaults.
        public init(
            url: ServerURL, token: String, gateway: String, software: String,
            backoff: Backoff = Backoff(), stableAfter: Duration = .seconds(30),
            handshakeTimeout: Duration = .seconds(10), drainTimeout: Duration = .seconds(10),
            batchSize: Int = 256, transport: UplinkTransport = UplinkTransport()
        ) {
            self.url = url
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
        var state: LinkState = .connecting
        var draining = false
        var connections = 0
        var drainDeadline: ContinuousClock.Instant?
        var heartbeat = HeartbeatMonitor()
        var heartbeatInterval: Duration = .seconds(10)
        var wakeSleeper: CheckedContinuation<Void, Never>?
    }

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
    /// Connections that completed the hello/welcome handshake.
    public var connectionCount: Int { shared.withLock { $0.connections } }

    /// Runs until graceful shutdown (after draining) or cancellation.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await self.connectLoop()
        } onGracefulShutdown: {
            self.beginDrain()
        }
        shared.withLock { $0.state = .stopped }
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
        while !Task.isCancelled {
            if isDraining {
                reportUndelivered()
                return
            }
            shared.withLock { $0.state = .connecting }
            let started = ContinuousClock.now
            var refusedToken = false
            do {
                try await connectOnce()
                if ContinuousClock.now - started >= configuration.stableAfter { backoff.reset() }
                if isDraining, queue.snapshot.depth == 0 { return }
                logger.warning("link to \(configuration.url) closed; redialling")
            } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
                let verdict = await AuthProbe.check(configuration.url, token: configuration.token, transport: configuration.transport)
                switch verdict {
                case .refused(let status, let reason):
                    refusedToken = true
                    logger.error("server refused the token for gateway \"\(configuration.gateway)\": \(reason) (HTTP \(status) from \(configuration.url.authPath)); check the token file")
                case .accepted:
                    logger.error("server refused the WebSocket upgrade although it accepts the token: wrong path \(configuration.url.path), or the server is not a SerialBridge server")
                case .unexpected, .unreachable:
                    logger.error("server refused the WebSocket upgrade; server unavailable? (\(verdict))")
                }
            } catch {
                logger.warning("cannot connect to \(configuration.url): \(error)")
            }
            let delay = refusedToken ? backoff.capDelay(using: &random) : backoff.nextDelay(using: &random)
            logger.info("retrying in \(Self.format(delay)) (attempt \(backoff.attempts))")
            await sleep(delay)
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
            logger.error("stopping with \(depth) readings not acknowledged by the server")
        }
    }

    private func connectOnce() async throws {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(configuration.token)"
        let clientConfiguration = WebSocketClientConfiguration(
            maxFrameSize: 1 << 20,
            additionalHeaders: headers,
            extensions: configuration.transport.extensions(maxFrameSize: 1 << 20),
            autoPing: .enabled(timePeriod: .seconds(30))
        )
        let client = UplinkSocket(
            url: configuration.url,
            configuration: clientConfiguration,
            transport: configuration.transport,
            logger: logger
        ) { inbound, outbound, _ in
            try await self.session(inbound: inbound, outbound: outbound)
        }
        try await client.run()
    }

    /// One connection: hello → welcome → send and acknowledge until the link ends.
    private func session(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let hello = Hello(
            gateway: configuration.gateway, software: configuration.software,
            epoch: queue.epoch, lastSequence: queue.snapshot.lastAssigned.sequence
        )
        try await outbound.write(Self.textFrame(MessageCodec.encode(.hello(hello))))
        // One start signal per waiting task: an AsyncStream has a single consumer.
        let (sendingMayStart, startSending) = AsyncStream<Void>.makeStream()
        let (heartbeatsMayStart, startHeartbeats) = AsyncStream<Void>.makeStream()
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // The reader owns the inbound iterator: welcome first, then acks and heartbeats.
                var messages = inbound.messages(maxSize: MessageCodec.maxMessageBytes).makeAsyncIterator()
                guard let first = try await messages.next() else { return }
                guard try await self.accept(welcome: first, outbound: outbound) else { return }
                startSending.finish()
                startHeartbeats.finish()
                while let message = try await messages.next() {
                    try await self.handle(message, outbound: outbound)
                }
            }
            group.addTask {
                for await _ in sendingMayStart {}
                while !Task.isCancelled {
                    let batch = await self.queue.nextBatch(limit: self.configuration.batchSize)
                    for frame in batch {
                        try await outbound.write(Self.textFrame(frame.bytes))
                    }
                }
            }
            group.addTask {
                // Heartbeats: a silent half-open link is declared dead after missed pongs.
                for await _ in heartbeatsMayStart {}
                while !Task.isCancelled {
                    let interval = self.shared.withLock { $0.heartbeatInterval }
                    try await Task.sleep(for: interval)
                    switch self.shared.withLock({ $0.heartbeat.tick() }) {
                    case .sendPing:
                        let ping = Heartbeat(timestamp: Timestamp.nowMilliseconds())
                        try await outbound.write(Self.textFrame(MessageCodec.encode(.ping(ping))))
                    case .declareDead(let missed):
                        self.logger.warning("link dead: \(missed) heartbeats unanswered; redialling")
                        try await outbound.close(.goingAway, reason: "heartbeat timeout")
                        return
                    }
                }
            }
            group.addTask {
                // Watchdog: a missing welcome, or a finished drain, ends the connection.
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(20))
                    let (up, deadline) = self.shared.withLock { ($0.state == .up, $0.drainDeadline) }
                    if !up, ContinuousClock.now - started > self.configuration.handshakeTimeout {
                        self.logger.error("no welcome from the server within \(Self.format(self.configuration.handshakeTimeout)); closing")
                        try await outbound.close(.protocolError, reason: "no welcome")
                        return
                    }
                    if let deadline, up, self.queue.snapshot.depth == 0 || ContinuousClock.now >= deadline {
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

    /// Handles the server's first message; true when it is a welcome and sending may start.
    private func accept(welcome message: WebSocketMessage, outbound: WebSocketOutboundWriter) async throws -> Bool {
        switch Self.decode(message) {
        case .welcome(let welcome)?:
            if let acked = welcome.acked { queue.acknowledge(upTo: acked) }
            queue.rewind()
            shared.withLock {
                $0.state = .up
                $0.connections += 1
                $0.heartbeat = HeartbeatMonitor()
                $0.heartbeatInterval = .milliseconds(max(100, welcome.heartbeatMs))
            }
            let held = welcome.acked.map { "\($0)" } ?? "nothing yet"
            logger.info("link up: \(configuration.url), protocol \(welcome.protocolVersion), server holds up to \(held)")
            return true
        case .error(let error)?:
            logger.error("server rejected hello: \(error.code): \(error.message)")
            try await outbound.close(.policyViolation, reason: nil)
            return false
        default:
            logger.error("expected welcome from the server, got another message; closing")
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
            try await outbound.write(Self.textFrame(MessageCodec.encode(.pong(pong))))
        case .pong(let beat)?:
            let now = Timestamp.nowMilliseconds()
            let rtt = shared.withLock { shared -> Int64? in
                shared.heartbeat.pongReceived(sentAt: beat.timestamp, now: now)
                return shared.heartbeat.lastRTTMilliseconds
            }
            logger.trace("heartbeat round trip \(rtt ?? 0) ms")
        case .error(let error)?:
            logger.error("server reported \(error.code): \(error.message)")
        case .none:
            logger.warning("ignored an undecodable message from the server")
        default:
            break
        }
    }

    static func decode(_ message: WebSocketMessage) -> Message? {
        guard case .text(let text) = message else { return nil }
        return try? MessageCodec.decode(text.utf8)
    }

    static func textFrame(_ bytes: [UInt8]) -> WebSocketOutboundWriter.OutboundFrame {
        .custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes)))
    }


    /// Round-trip time of the last answered heartbeat, in milliseconds.
    public var lastRoundTripMilliseconds: Int64? { shared.withLock { $0.heartbeat.lastRTTMilliseconds } }

    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.nanoseconds / 1_000_000
        return milliseconds >= 1000 ? "\(Double(milliseconds / 100) / 10)s" : "\(milliseconds)ms"
    }
}

