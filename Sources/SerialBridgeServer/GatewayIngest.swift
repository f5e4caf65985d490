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
/// Two tasks per connection: the reader decodes and checks messages and queues readings and device
/// events (a bounded ``IngestQueue``); the writer stores everything queued so far, consecutive
/// readings in one transaction answered by one cumulative ack of the newest. A gateway replaying a
/// backlog thus costs one transaction per batch, not per reading, and live traffic (one reading at
/// a time) is acknowledged as soon as it is stored.
///
/// The token already named the gateway at the upgrade; a `hello` or reading that claims another
/// gateway id is a policy violation and closes the connection (1008).
struct GatewayIngest: Sendable {
    let store: ReadingStore
    let feed: LiveFeed
    let heartbeatMs: Int64
    /// Messages the reader may queue ahead of the writer.
    var queueCapacity = 4096

    func serve(gateway: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, logger: Logger) async {
        var tagged = logger
        tagged[metadataKey: "gateway"] = .string(gateway)
        let logger = tagged
        let queue = IngestQueue(capacity: queueCapacity)
        let stored = await withTaskGroup(of: Int.self) { group -> Int in
            group.addTask { await self.write(from: queue, outbound: outbound, logger: logger) }
            await read(gateway: gateway, inbound: inbound, outbound: outbound, into: queue, logger: logger)
            queue.finish()
            return await group.next() ?? 0
        }
        logger.info("gateway disconnected after storing \(stored) readings")
    }

    /// The reader: hello first, then readings and device events to the queue, heartbeats answered.
    private func read(
        gateway: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, into queue: IngestQueue, logger: Logger
    ) async {
        var greeted = false
        do {
            for try await message in inbound.messages(maxSize: MessageCodec.maxMessageBytes) {
                guard case .text(let text) = message else {
                    try await send(.error(.init(code: "bad-message", message: "binary messages are not part of protocol 1")), outbound)
                    continue
                }
                let decoded: Message
                do {
                    decoded = try MessageCodec.decode(text.utf8)
                } catch {
                    logger.warning("rejected message: \(error)")
                    try await send(.error(.init(code: "bad-message", message: error.description)), outbound)
                    continue
                }
                switch decoded {
                case .hello(let hello):
                    guard hello.gateway == gateway else {
                        try await refuse("gateway-mismatch", "token is for \"\(gateway)\", hello says \"\(hello.gateway)\"", outbound, logger)
                        return
                    }
                    guard hello.protocols.contains(ProtocolVersion.current) else {
                        try await send(.error(.init(code: "unsupported-version", message: "server speaks \(ProtocolVersion.supported)")), outbound)
                        try await outbound.close(.unknown(4000), reason: "unsupported protocol version")
                        return
                    }
                    try await welcome(hello, outbound: outbound, logger: logger)
                    greeted = true
                case .reading(let reading):
                    guard greeted else {
                        try await refuse("no-hello", "send hello first", outbound, logger)
                        return
                    }
                    guard reading.gateway == gateway else {
                        try await refuse("gateway-mismatch", "reading claims gateway \"\(reading.gateway)\"", outbound, logger)
                        return
                    }
                    await queue.push(.reading(reading))
                case .device(let event):
                    guard greeted, event.gateway == gateway else {
                        try await refuse(greeted ? "gateway-mismatch" : "no-hello", "device event for \"\(event.gateway)\"", outbound, logger)
                        return
                    }
                    await queue.push(.device(event))
                case .ping(let beat):
                    try await send(.pong(Heartbeat(timestamp: beat.timestamp, serverTimestamp: Timestamp.nowMilliseconds())), outbound)
                case .pong, .ack, .welcome, .error:
                    break
                }
            }
        } catch {
            logger.warning("gateway connection ended: \(error)")
        }
    }

    private func welcome(_ hello: Hello, outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        let acked = try await store.lastStored(gateway: hello.gateway)
        let droppedBefore = try await store.recordHello(hello, receivedAt: Timestamp.nowMilliseconds())
        try await send(.welcome(Welcome(protocolVersion: ProtocolVersion.current, acked: acked, heartbeatMs: heartbeatMs)), outbound)
        logger.info("gateway connected: software \(hello.software), epoch \(hello.epoch), stored up to \(acked.map { "\($0)" } ?? "nothing")\(hello.dropped.map { ", spool dropped \($0) frames so far" } ?? "")")
        if let dropped = hello.dropped, dropped > (droppedBefore ?? 0) {
            logger.warning("gateway reports \(dropped - (droppedBefore ?? 0)) more frames dropped by its spool (full, too old, or disk errors): \(dropped) in all")
        }
    }

    /// The writer: stores what the reader queued, in order; returns how many readings were new.
    private func write(from queue: IngestQueue, outbound: WebSocketOutboundWriter, logger: Logger) async -> Int {
        var stored = 0
        var readings: [Reading] = []
        do {
            while true {
                let items = await queue.takeAll()
                if items.isEmpty { return stored }
                for item in items {
                    switch item {
                    case .reading(let reading):
                        readings.append(reading)
                    case .device(let event):
                        stored += try await storeReadings(&readings, outbound)
                        if try await store.insert(event, receivedAt: Timestamp.nowMilliseconds()) {
                            logger.info("device \(event.device) \(event.kind.rawValue)\(event.message.map { ": \($0)" } ?? "")")
                            feed.publish(LiveMessage.device(event))
                        }
                        try await send(.ack(Ack(id: event.id)), outbound)
                    }
                }
                stored += try await storeReadings(&readings, outbound)
            }
        } catch {
            // The gateway keeps what was not acknowledged and sends it again on its next connection.
            logger.error("cannot store or acknowledge readings: \(error); closing the connection")
            queue.finish()
            try? await outbound.close(.unexpectedServerError, reason: "storage failed")
            return stored
        }
    }

    /// Stores consecutive readings in one transaction and acknowledges the newest; returns how many were new.
    private func storeReadings(_ readings: inout [Reading], _ outbound: WebSocketOutboundWriter) async throws -> Int {
        guard let newest = readings.lazy.map(\.id).max() else { return 0 }
        let fresh = try await store.insert(readings, receivedAt: Timestamp.nowMilliseconds())
        readings.removeAll(keepingCapacity: true)
        try await send(.ack(Ack(id: newest)), outbound)
        for reading in fresh { feed.publish(LiveMessage.reading(reading)) }
        return fresh.count
    }

    private func send(_ message: Message, _ outbound: WebSocketOutboundWriter) async throws {
        let bytes = MessageCodec.encode(message)
        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
    }

    private func refuse(_ code: String, _ text: String, _ outbound: WebSocketOutboundWriter, _ logger: Logger) async throws {
        logger.error("closing gateway connection: \(code): \(text)")
        try await send(.error(.init(code: code, message: text)), outbound)
        try await outbound.close(.policyViolation, reason: code)
    }
}

/// Messages pushed to dashboards over `/api/live`.
enum LiveMessage {
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
