import SerialBridgeJSON
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import SerialBridgeProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Serves one gateway connection: checks `hello`, answers `welcome`, stores readings once and
/// acknowledges them, answers heartbeats, paces a gateway over its rate limit, and closes a
/// connection whose heartbeats stop.
///
/// The token already named the gateway at the upgrade; a `hello` or reading that claims another
/// gateway id is a policy violation and closes the connection (1008). Malformed messages close it
/// with 1007 (bad data) or 1002 (a message kind the protocol does not have), a failed storage
/// write with 1011, silence with 4001; each is logged with the gateway id and counted.
struct GatewayIngest: Sendable {
    let store: any ServerStorage
    /// Where live updates go: this instance's dashboards, and other instances' through a cluster bus.
    let bus: any ClusterBus
    let registry: GatewayRegistry
    let metrics: ServerMetrics
    let heartbeatMs: Int64
    /// Heartbeat intervals without a word from the gateway before its connection is closed.
    let missedHeartbeats: Int
    /// Readings per gateway connection; nil for no limit.
    let rateLimit: RateLimit?
    /// Largest message accepted whole (announced in `welcome`); larger ones arrive chunked.
    let maxMessageBytes: Int
    /// Limits on reassembling chunked messages.
    let chunkLimits: ChunkReassembler.Limits

    /// Why a connection must end, with the close code that says so.
    private struct Closing: Error {
        var code: WebSocketErrorCode
        var errorCode: String
        var reason: String
    }

    /// How a connection ended; becomes the reason of the gateway's `offline` event.
    private enum Ending: Sendable {
        case closedByGateway
        case closedByServer(code: UInt16, errorCode: String)
        case silent(milliseconds: Int64)
        /// The read failed; the error goes back to the WebSocket handler, which closes with the
        /// code it carries (1002, 1007 or 1009 for frames the library refused).
        case lost(any Error)

        var reason: String {
            switch self {
            case .closedByGateway: "the gateway closed the connection"
            case .closedByServer(let code, let errorCode): "closed by the server (\(code) \(errorCode))"
            case .silent(let milliseconds): "heartbeat timeout: nothing heard for \(milliseconds) ms"
            case .lost(let error): "connection lost: \(error)"
            }
        }
    }

    func serve(gateway: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        var logger = logger
        logger[metadataKey: "gateway"] = .string(gateway)
        guard let token = registry.connected(gateway, outbound: outbound, at: Timestamp.nowMilliseconds()) else {
            logger.info("refused a connection from gateway \(gateway): the server is shutting down")
            metrics.closed(code: 1001)
            try? await outbound.close(.goingAway, reason: "shutting-down")
            return
        }
        metrics.connections.increment()
        metrics.gatewaysConnected.increment()
        let connectedAt = Timestamp.nowMilliseconds()
        await bus.gatewayConnected(gateway, connection: token, at: connectedAt)
        bus.publish(device: nil, LiveMessage.gateway(gateway, online: true, at: connectedAt, reason: nil))
        await recordEvent(gateway, .online, at: connectedAt, reason: nil, logger)
        let liveness = Liveness(Self.now())
        let logger2 = logger
        let pipeline = AckPipeline(limit: Self.writesInFlight)
        var ending = await withTaskGroup(of: Ending.self) { group in
            group.addTask {
                await self.receive(gateway: gateway, inbound: inbound, outbound: outbound, liveness: liveness, pipeline: pipeline, logger: logger2)
            }
            group.addTask { await self.acknowledge(pipeline, outbound: outbound, gateway: gateway, logger: logger2) }
            group.addTask { await self.watch(liveness) }
            let first = await group.next() ?? .closedByGateway
            group.cancelAll()
            return first
        }
        if case .silent(let milliseconds) = ending {
            logger.warning("closing gateway \(gateway)'s connection: heartbeat timeout, nothing heard for \(milliseconds) ms (\(missedHeartbeats) × \(heartbeatMs) ms)")
            metrics.heartbeatTimeouts.increment()
            metrics.closed(code: 4001)
            // Bounded: a silent peer may never drain the socket; the WebSocket handler then closes
            // the channel after its own close timeout.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await outbound.close(.unknown(4001), reason: "heartbeat-timeout") }
                group.addTask { try? await Task.sleep(for: .seconds(1)) }
                await group.next()
                group.cancelAll()
            }
        }
        if case .closedByGateway = ending, registry.isClosing {
            ending = .closedByServer(code: 1001, errorCode: "shutting-down")
        }
        metrics.gatewaysConnected.decrement()
        let at = Timestamp.nowMilliseconds()
        await bus.gatewayDisconnected(gateway, connection: token, at: at)
        if registry.disconnected(gateway, token: token, at: at, reason: ending.reason) {
            bus.publish(device: nil, LiveMessage.gateway(gateway, online: false, at: at, reason: ending.reason))
            await recordEvent(gateway, .offline, at: at, reason: ending.reason, logger)
        }
        logger.info("gateway \(gateway) disconnected: \(ending.reason)")
        if case .lost(let error) = ending { throw error }
    }

    /// Stores an online/offline transition; a failure is logged, never fatal (the transition was
    /// already pushed to dashboards and is in the registry).
    private func recordEvent(_ gateway: String, _ kind: GatewayEventKind, at time: Int64, reason: String?, _ logger: Logger) async {
        do {
            try await store.recordGatewayEvent(gateway: gateway, kind: kind, at: time, reason: reason)
        } catch {
            metrics.storageFailures.increment()
            logger.error("cannot store gateway \(gateway)'s \(kind.rawValue) event: \(error)")
        }
    }

    /// Reads the connection until it ends; returns how it ended.
    private func receive(
        gateway: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, liveness: Liveness, pipeline: AckPipeline,
        logger: Logger
    ) async -> Ending {
        var connection = Connection(
            gateway: gateway, reassembler: ChunkReassembler(limits: chunkLimits), bucket: rateLimit.map { TokenBucket(limit: $0, now: Self.now()) },
            pipeline: pipeline
        )
        defer { pipeline.finish() }
        do {
            for try await message in inbound.messages(maxSize: maxMessageBytes) {
                let now = Self.now()
                liveness.heard(at: now)
                connection.arrivedAt = now
                metrics.messagesReceived.increment()
                do {
                    switch message {
                    case .text(let text):
                        let bytes = Array(text.utf8)
                        metrics.bytesReceived.increment(by: Int64(bytes.count))
                        try await handle(text: bytes, limit: maxMessageBytes, &connection, outbound, logger)
                    case .binary(let buffer):
                        metrics.bytesReceived.increment(by: Int64(buffer.readableBytes))
                        try await handle(binary: Array(buffer.readableBytesView), &connection, outbound, logger)
                    }
                } catch let closing as Closing {
                    logger.error("closing gateway \(gateway)'s connection with \(UInt16(webSocketErrorCode: closing.code)): \(closing.errorCode): \(closing.reason)")
                    metrics.closed(code: UInt16(webSocketErrorCode: closing.code))
                    try? await send(.error(.init(code: closing.errorCode, message: closing.reason)), outbound)
                    try? await outbound.close(closing.code, reason: closing.errorCode)
                    return .closedByServer(code: UInt16(webSocketErrorCode: closing.code), errorCode: closing.errorCode)
                }
            }
            registry.heard(from: gateway, at: Timestamp.nowMilliseconds())
            logger.info("gateway \(gateway)'s connection closed")
            return .closedByGateway
        } catch {
            if Task.isCancelled { return .closedByGateway }
            logger.warning("gateway \(gateway)'s connection ended: \(error)")
            return .lost(error)
        }
    }

    /// Messages whose writes may run ahead of their acknowledgements, per connection.
    static let writesInFlight = 64

    /// Sends each write's ack once it and every earlier write are committed; a failed write
    /// closes the connection (1011 for storage) and ends the connection.
    private func acknowledge(_ pipeline: AckPipeline, outbound: WebSocketOutboundWriter, gateway: String, logger: Logger) async -> Ending {
        for await write in pipeline.writes {
            do {
                guard let last = try await write.work.value else { continue }
                try await send(.ack(Ack(id: last)), outbound)
                metrics.ackLatency.recordNanoseconds(Int64(Self.now() &- write.arrivedAt))
            } catch let closing as Closing {
                logger.error("closing gateway \(gateway)'s connection with \(UInt16(webSocketErrorCode: closing.code)): \(closing.errorCode): \(closing.reason)")
                metrics.closed(code: UInt16(webSocketErrorCode: closing.code))
                try? await send(.error(.init(code: closing.errorCode, message: closing.reason)), outbound)
                try? await outbound.close(closing.code, reason: closing.errorCode)
                return .closedByServer(code: UInt16(webSocketErrorCode: closing.code), errorCode: closing.errorCode)
            } catch {
                // The ack could not be written: the connection is going; the reading side says how.
                break
            }
        }
        // Wait to be cancelled by the end the reading side reports.
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        return .closedByGateway
    }

    /// Returns once the gateway has been silent for `missedHeartbeats` intervals.
    private func watch(_ liveness: Liveness) async -> Ending {
        let allowed = UInt64(max(1, missedHeartbeats)) * UInt64(max(1, heartbeatMs)) * 1_000_000
        var deadline = liveness.last + allowed
        while true {
            let now = Self.now()
            if now < deadline {
                do { try await Task.sleep(nanoseconds: deadline - now) } catch { return .closedByGateway }
            }
            let last = liveness.last
            if Self.now() >= last + allowed {
                return .silent(milliseconds: Int64((Self.now() - last) / 1_000_000))
            }
            deadline = last + allowed
        }
    }

    /// One connection's state.
    private struct Connection {
        let gateway: String
        var reassembler: ChunkReassembler
        var bucket: TokenBucket?
        let pipeline: AckPipeline
        var greeted = false
        /// When the message being handled arrived (uptime ns), for the ack latency.
        var arrivedAt: UInt64 = 0
    }

    private func handle(text: [UInt8], limit: Int, _ connection: inout Connection, _ outbound: WebSocketOutboundWriter, _ logger: Logger) async throws {
        let decoded: Message
        do {
            decoded = try MessageCodec.decode(text, limit: limit)
        } catch {
            metrics.rejected("bad-message")
            throw Closing(code: .dataInconsistentWithMessage, errorCode: "bad-message", reason: error.description)
        }
        try await handle(decoded, &connection, outbound, logger)
    }

    private func handle(binary bytes: [UInt8], _ connection: inout Connection, _ outbound: WebSocketOutboundWriter, _ logger: Logger) async throws {
        switch bytes.first {
        case BinaryReadings.batchKind?:
            let readings: [Reading]
            do {
                readings = try BinaryReadings.decodeBatch(bytes)
            } catch {
                metrics.rejected("bad-message")
                throw Closing(code: .dataInconsistentWithMessage, errorCode: "bad-message", reason: error.description)
            }
            try await store(readings.map(Message.reading), &connection, outbound, logger)
        case Chunking.kind?:
            let whole: (bytes: [UInt8], inner: Chunking.Inner)?
            do {
                whole = try connection.reassembler.receive(bytes, at: Self.now())
            } catch {
                if case .tooLarge = error {
                    metrics.rejected("too-large")
                    throw Closing(code: .messageTooLarge, errorCode: "too-large", reason: error.description)
                }
                metrics.rejected("bad-chunk")
                throw Closing(code: .dataInconsistentWithMessage, errorCode: "bad-chunk", reason: error.description)
            }
            guard let whole else { return }
            switch whole.inner {
            case .text: try await handle(text: whole.bytes, limit: chunkLimits.maxMessageBytes, &connection, outbound, logger)
            case .binary:
                guard whole.bytes.first != Chunking.kind else {
                    metrics.rejected("bad-chunk")
                    throw Closing(code: .dataInconsistentWithMessage, errorCode: "bad-chunk", reason: "a chunked message holds another chunk")
                }
                try await handle(binary: whole.bytes, &connection, outbound, logger)
            }
        default:
            let kind = bytes.first.map { "0x" + String($0, radix: 16) } ?? "empty"
            metrics.rejected("unknown-kind")
            throw Closing(code: .protocolError, errorCode: "bad-message", reason: "unknown binary message kind \(kind)")
        }
    }

    private func handle(_ decoded: Message, _ connection: inout Connection, _ outbound: WebSocketOutboundWriter, _ logger: Logger) async throws {
        let gateway = connection.gateway
        switch decoded {
        case .hello(let hello):
            guard hello.gateway == gateway else {
                metrics.rejected("gateway-mismatch")
                throw Closing(code: .policyViolation, errorCode: "gateway-mismatch", reason: "token is for \"\(gateway)\", hello says \"\(hello.gateway)\"")
            }
            guard hello.protocols.contains(ProtocolVersion.current) else {
                metrics.rejected("unsupported-version")
                throw Closing(code: .unknown(4000), errorCode: "unsupported-version", reason: "server speaks \(ProtocolVersion.supported)")
            }
            let (acked, droppedBefore) = try await storing {
                (try await store.lastStored(gateway: gateway), try await store.recordHello(hello, receivedAt: Timestamp.nowMilliseconds()))
            }
            let welcome = Welcome(
                protocolVersion: ProtocolVersion.current, acked: acked, heartbeatMs: heartbeatMs,
                maxMessageBytes: Int64(maxMessageBytes), chunkBytes: Int64(maxMessageBytes)
            )
            try await send(.welcome(welcome), outbound)
            connection.greeted = true
            let spoolNote = hello.dropped.map { ", spool dropped \($0) frames so far" } ?? ""
            logger.info("gateway connected: software \(hello.software), epoch \(hello.epoch), stored up to \(acked.map { "\($0)" } ?? "nothing")\(spoolNote)")
            if let dropped = hello.dropped, dropped > (droppedBefore ?? 0) {
                logger.warning("gateway reports \(dropped - (droppedBefore ?? 0)) more frames dropped by its spool (full, too old, or disk errors): \(dropped) in all")
            }
        case .reading, .device:
            try await store([decoded], &connection, outbound, logger)
        case .batch(let items):
            try await store(items, &connection, outbound, logger)
        case .ping(let beat):
            registry.heard(from: gateway, at: Timestamp.nowMilliseconds())
            try await send(.pong(Heartbeat(timestamp: beat.timestamp, serverTimestamp: Timestamp.nowMilliseconds())), outbound)
        case .commandResult(let result):
            registry.finish(result, from: gateway)
        case .link(let report):
            registry.record(report, from: gateway)
            bus.publish(device: nil, LiveMessage.link(gateway: gateway, report))
            // Kept in PostgreSQL too, for the instances that do not hold this gateway; a failure
            // costs only that view, never the connection.
            if let links = store as? any LinkReportStore {
                do { try await links.recordLink(report, gateway: gateway) } catch { logger.error("cannot store the link report: \(error)") }
            }
        case .tapData(let data):
            bus.publish(device: "\(gateway):\(data.device)", LiveMessage.tap(gateway: gateway, data))
        case .pong, .ack, .welcome, .error, .command, .tapStart, .tapStop:
            break
        }
    }

    /// Stores readings (one transaction per run of readings) and device events in order, then
    /// acknowledges the last identity once all of it is committed.
    private func store(_ items: [Message], _ connection: inout Connection, _ outbound: WebSocketOutboundWriter, _ logger: Logger) async throws {
        guard connection.greeted else {
            metrics.rejected("no-hello")
            throw Closing(code: .policyViolation, errorCode: "no-hello", reason: "send hello first")
        }
        if var bucket = connection.bucket {
            let wait = bucket.take(items.count, at: Self.now())
            connection.bucket = bucket
            if wait > 0 {
                metrics.throttledWaits.increment()
                try await Task.sleep(nanoseconds: wait)
            }
        }
        for item in items {
            switch item {
            case .reading(let reading) where reading.gateway != connection.gateway:
                metrics.rejected("gateway-mismatch")
                throw Closing(code: .policyViolation, errorCode: "gateway-mismatch", reason: "reading claims gateway \"\(reading.gateway)\"")
            case .device(let event) where event.gateway != connection.gateway:
                metrics.rejected("gateway-mismatch")
                throw Closing(code: .policyViolation, errorCode: "gateway-mismatch", reason: "device event for \"\(event.gateway)\"")
            default:
                break
            }
        }
        registry.heard(from: connection.gateway, at: Timestamp.nowMilliseconds())
        await connection.pipeline.submit(arrivedAt: connection.arrivedAt) { try await self.write(items, logger) }
    }

    /// Stores one message's readings (one run at a time) and device events in order; returns the
    /// identity its ack names.
    private func write(_ items: [Message], _ logger: Logger) async throws -> ReadingID? {
        var run: [Reading] = []
        var last: ReadingID?
        for item in items {
            switch item {
            case .reading(let reading):
                run.append(reading)
                last = max(last ?? reading.id, reading.id)
            case .device(let event):
                try await flush(&run)
                if try await storing({ try await store.insert(event, receivedAt: Timestamp.nowMilliseconds()) }) {
                    metrics.deviceEvents.increment()
                    logger.info("device \(event.device) \(event.kind.rawValue)\(event.message.map { ": \($0)" } ?? "")")
                    bus.publish(device: "\(event.gateway):\(event.device)", LiveMessage.device(event))
                }
                last = max(last ?? event.id, event.id)
            default:
                break
            }
        }
        try await flush(&run)
        return last
    }

    /// Runs a storage call; a failure closes the connection with 1011 so the gateway resends later
    /// (nothing was acknowledged).
    private func storing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            metrics.storageFailures.increment()
            throw Closing(code: .unexpectedServerError, errorCode: "storage", reason: "cannot store: \(error)")
        }
    }

    private func flush(_ run: inout [Reading]) async throws {
        guard !run.isEmpty else { return }
        let batch = run
        let fresh = try await storing { try await store.insert(batch, receivedAt: Timestamp.nowMilliseconds()) }
        metrics.readingsStored.increment(by: Int64(fresh.count))
        metrics.readingsDuplicate.increment(by: Int64(run.count - fresh.count))
        for reading in fresh { bus.publish(device: "\(reading.gateway):\(reading.device)", LiveMessage.reading(reading)) }
        run.removeAll(keepingCapacity: true)
    }

    private func send(_ message: Message, _ outbound: WebSocketOutboundWriter) async throws {
        let bytes = MessageCodec.encode(message)
        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}

/// When a connection last heard from its gateway (uptime ns).
private final class Liveness: Sendable {
    private let stamp: Atomic<UInt64>
    init(_ now: UInt64) { stamp = Atomic(now) }
    var last: UInt64 { stamp.load(ordering: .relaxed) }
    func heard(at now: UInt64) { stamp.store(now, ordering: .relaxed) }
}
