import SerialBridgeJSON
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import SerialBridgeProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Serves one gateway connection: checks `hello`, answers `welcome`, stores readings once and
/// acknowledges them, answers heartbeats.
///
/// The token already named the gateway at the upgrade; a `hello` or reading that claims another
/// gateway id is a policy violation and closes the connection (1008).
struct GatewayIngest: Sendable {
    let store: any ServerStorage
    let feed: LiveFeed
    let registry: GatewayRegistry
    let heartbeatMs: Int64
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

    func serve(gateway: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, logger: Logger) async {
        var logger = logger
        logger[metadataKey: "gateway"] = .string(gateway)
        var connection = Connection(gateway: gateway, reassembler: ChunkReassembler(limits: chunkLimits))
        let token = registry.connected(gateway, outbound: outbound, at: Timestamp.nowMilliseconds())
        defer { registry.disconnected(gateway, token: token) }
        do {
            for try await message in inbound.messages(maxSize: maxMessageBytes) {
                do {
                    switch message {
                    case .text(let text):
                        try await handle(text: Array(text.utf8), limit: maxMessageBytes, &connection, outbound, logger)
                    case .binary(let buffer):
                        try await handle(binary: Array(buffer.readableBytesView), &connection, outbound, logger)
                    }
                } catch let closing as Closing {
                    logger.error("closing gateway connection: \(closing.errorCode): \(closing.reason)")
                    try await send(.error(.init(code: closing.errorCode, message: closing.reason)), outbound)
                    try await outbound.close(closing.code, reason: closing.errorCode)
                    break
                }
            }
        } catch {
            logger.warning("gateway connection ended: \(error)")
        }
        logger.info("gateway disconnected after storing \(connection.stored) readings")
    }

    /// One connection's state.
    private struct Connection {
        let gateway: String
        var reassembler: ChunkReassembler
        var greeted = false
        var stored = 0
    }

    private func handle(text: [UInt8], limit: Int, _ connection: inout Connection, _ outbound: WebSocketOutboundWriter, _ logger: Logger) async throws {
        let decoded: Message
        do {
            decoded = try MessageCodec.decode(text, limit: limit)
        } catch {
            logger.warning("rejected message: \(error)")
            try await send(.error(.init(code: "bad-message", message: error.description)), outbound)
            return
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
                logger.warning("rejected binary batch: \(error)")
                try await send(.error(.init(code: "bad-message", message: error.description)), outbound)
                return
            }
            try await store(readings.map(Message.reading), &connection, outbound, logger)
        case Chunking.kind?:
            let whole: (bytes: [UInt8], inner: Chunking.Inner)?
            do {
                whole = try connection.reassembler.receive(bytes, at: Self.now())
            } catch {
                if case .tooLarge = error { throw Closing(code: .messageTooLarge, errorCode: "too-large", reason: error.description) }
                throw Closing(code: .dataInconsistentWithMessage, errorCode: "bad-chunk", reason: error.description)
            }
            guard let whole else { return }
            switch whole.inner {
            case .text: try await handle(text: whole.bytes, limit: chunkLimits.maxMessageBytes, &connection, outbound, logger)
            case .binary:
                guard whole.bytes.first != Chunking.kind else {
                    throw Closing(code: .dataInconsistentWithMessage, errorCode: "bad-chunk", reason: "a chunked message holds another chunk")
                }
                try await handle(binary: whole.bytes, &connection, outbound, logger)
            }
        default:
            let kind = bytes.first.map { "0x" + String($0, radix: 16) } ?? "empty"
            try await send(.error(.init(code: "bad-message", message: "unknown binary message kind \(kind)")), outbound)
        }
    }

    private func handle(_ decoded: Message, _ connection: inout Connection, _ outbound: WebSocketOutboundWriter, _ logger: Logger) async throws {
        let gateway = connection.gateway
        switch decoded {
        case .hello(let hello):
            guard hello.gateway == gateway else {
                throw Closing(code: .policyViolation, errorCode: "gateway-mismatch", reason: "token is for \"\(gateway)\", hello says \"\(hello.gateway)\"")
            }
            guard hello.protocols.contains(ProtocolVersion.current) else {
                throw Closing(code: .unknown(4000), errorCode: "unsupported-version", reason: "server speaks \(ProtocolVersion.supported)")
            }
            let acked = try await store.lastStored(gateway: gateway)
            let droppedBefore = try await store.recordHello(hello, receivedAt: Timestamp.nowMilliseconds())
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
            try await send(.pong(Heartbeat(timestamp: beat.timestamp, serverTimestamp: Timestamp.nowMilliseconds())), outbound)
        case .commandResult(let result):
            registry.finish(result, from: gateway)
        case .link(let report):
            registry.record(report, from: gateway)
            feed.publish(LiveMessage.link(gateway: gateway, report))
        case .tapData(let data):
            feed.publish(LiveMessage.tap(gateway: gateway, data))
        case .pong, .ack, .welcome, .error, .command, .tapStart, .tapStop:
            break
        }
    }

    /// Stores readings (one transaction per run of readings) and device events in order, then
    /// acknowledges the last identity once all of it is committed.
    private func store(_ items: [Message], _ connection: inout Connection, _ outbound: WebSocketOutboundWriter, _ logger: Logger) async throws {
        guard connection.greeted else { throw Closing(code: .policyViolation, errorCode: "no-hello", reason: "send hello first") }
        var run: [Reading] = []
        var last: ReadingID?
        for item in items {
            switch item {
            case .reading(let reading):
                guard reading.gateway == connection.gateway else {
                    throw Closing(code: .policyViolation, errorCode: "gateway-mismatch", reason: "reading claims gateway \"\(reading.gateway)\"")
                }
                run.append(reading)
                last = max(last ?? reading.id, reading.id)
            case .device(let event):
                guard event.gateway == connection.gateway else {
                    throw Closing(code: .policyViolation, errorCode: "gateway-mismatch", reason: "device event for \"\(event.gateway)\"")
                }
                try await flush(&run, &connection)
                if try await store.insert(event, receivedAt: Timestamp.nowMilliseconds()) {
                    logger.info("device \(event.device) \(event.kind.rawValue)\(event.message.map { ": \($0)" } ?? "")")
                    feed.publish(LiveMessage.device(event))
                }
                last = max(last ?? event.id, event.id)
            default:
                break
            }
        }
        try await flush(&run, &connection)
        if let last { try await send(.ack(Ack(id: last)), outbound) }
    }

    private func flush(_ run: inout [Reading], _ connection: inout Connection) async throws {
        guard !run.isEmpty else { return }
        let fresh = try await store.insert(run, receivedAt: Timestamp.nowMilliseconds())
        connection.stored += fresh.count
        for reading in fresh { feed.publish(LiveMessage.reading(reading)) }
        run.removeAll(keepingCapacity: true)
    }

    private func send(_ message: Message, _ outbound: WebSocketOutboundWriter) async throws {
        let bytes = MessageCodec.encode(message)
        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}

/// Messages pushed to dashboards over `/api/live`.
enum LiveMessage {
    static func link(gateway: String, _ report: LinkReport) -> String {
        var writer = JSONWriter(capacity: 200)
        writer.beginObject()
        writer.key("type"); writer.string("link")
        writer.key("gateway"); writer.string(gateway)
        writer.key("ts"); writer.integer(report.timestamp)
        if let rtt = report.rttLastMs { writer.key("rttMs"); writer.integer(rtt) }
        writer.key("queueDepth"); writer.integer(report.queueDepth)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func tap(gateway: String, _ data: TapData) -> String {
        var writer = JSONWriter(capacity: 64 + data.bytes.count * 2)
        writer.beginObject()
        writer.key("type"); writer.string("tap")
        writer.key("id"); writer.string("\(gateway):\(data.device)")
        writer.key("ts"); writer.integer(data.timestamp)
        writer.key("dir"); writer.string(data.direction.rawValue)
        writer.key("base64"); writer.string(Base64.encode(data.bytes))
        writer.key("dropped"); writer.integer(data.dropped)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func device(_ event: DeviceStateChange) -> String {
        var writer = JSONWriter(capacity: 200)
        writer.beginObject()
        writer.key("type"); writer.string("device")
        writer.key("id"); writer.string("\(event.gateway):\(event.device)")
        writer.key("gateway"); writer.string(event.gateway)
        writer.key("device"); writer.string(event.device)
        writer.key("profile"); writer.string(event.profile)
        writer.key("state"); writer.string(event.kind.rawValue)
        writer.key("ts"); writer.integer(event.timestamp)
        if let message = event.message {
            writer.key("message"); writer.string(message)
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func reading(_ reading: Reading) -> String {
        var writer = JSONWriter(capacity: 200)
        writer.beginObject()
        writer.key("type"); writer.string("reading")
        writer.key("id"); writer.string("\(reading.gateway):\(reading.device)")
        writer.key("gateway"); writer.string(reading.gateway)
        writer.key("device"); writer.string(reading.device)
        writer.key("profile"); writer.string(reading.profile)
        writer.key("ts"); writer.integer(reading.timestamp)
        writer.endObject()
        var text = String(decoding: writer.bytes, as: UTF8.self)
        text.removeLast()
        let flags = ReadingJSON.names(reading.outOfRange).map { ",\"outOfRange\":" + $0 } ?? ""
        return text + ",\"values\":" + ReadingJSON.values(reading.values) + ",\"units\":" + ReadingJSON.units(reading.values) + flags + "}"
    }
}
