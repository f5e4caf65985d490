import Foundation
import GRDB
import HTTPTypes
import Logging
import NIOCore
import NIOSSL
import SerialBridgeProtocol
@testable import SerialBridgeServer
import Synchronization
import Testing
import WSClient

/// A gateway played by hand: says hello, waits for welcome, runs `script`, and returns the close
/// frame the server ended the connection with (nil when it sent none) and every text it received.
func handPlayedGateway(
    port: Int, logger: Logger,
    script: @escaping @Sendable (inout WebSocketInboundMessageStream.AsyncIterator, WebSocketOutboundWriter) async throws -> Void = { _, _ in }
) async throws -> (close: WebSocketCloseFrame?, texts: [String]) {
    var headers = HTTPFields()
    headers[.authorization] = "Bearer \(TestServer.token)"
    headers[.secWebSocketProtocol] = Subprotocol.name
    let texts = Mutex<[String]>([])
    let close = try await WebSocketClient.connect(
        url: "ws://127.0.0.1:\(port)/gateway/v1", configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers), logger: logger
    ) { inbound, outbound, _ in
        let hello = Hello(gateway: "gw-test", software: "test", epoch: 1, lastSequence: 0)
        try await outbound.write(.text(String(decoding: MessageCodec.encode(.hello(hello)), as: UTF8.self)))
        var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
        try await script(&messages, outbound)
        while let message = try await messages.next() {
            if case .text(let text) = message { texts.withLock { $0.append(text) } }
        }
    }
    return (close, texts.withLock { $0 })
}

private func reading(_ sequence: Int64) -> Message {
    .reading(Reading(
        gateway: "gw-test", id: ReadingID(epoch: 1, sequence: sequence), device: "sensor-1", profile: "p",
        timestamp: sequence, values: [NamedValue(name: "n", value: .integer(sequence))]
    ))
}

private func text(_ message: Message) -> WebSocketOutboundWriter.OutboundFrame {
    .text(String(decoding: MessageCodec.encode(message), as: UTF8.self))
}

@Suite("Server limits: malformed input, storage failure, silence, shutdown, pacing", .serialized)
struct ServerLimitsTests {
    @Test func malformedJSONClosesWith1007AndIsLoggedWithTheGatewayID() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let result = try await handPlayedGateway(port: server.port, logger: logs.logger("client")) { _, outbound in
            try await outbound.write(.text(#"{"type":"reading","gateway":"gw-test","epoch":01}"#))
        }
        #expect(result.close?.closeCode == .dataInconsistentWithMessage)
        #expect(result.texts.contains { $0.contains(#""code":"bad-message""#) && $0.contains("leading zero") })
        #expect(logs.count(containing: "closing gateway gw-test's connection with 1007: bad-message") == 1)
        #expect(String(decoding: server.metrics.render(), as: UTF8.self).contains(#"serialbridge_server_rejected_total{reason="bad-message"} 1"#))
        try await server.stop()
    }

    @Test func anOversizeMessageClosesWith1009() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"), maxMessageBytes: 4096)
        let result = try await handPlayedGateway(port: server.port, logger: logs.logger("client")) { messages, outbound in
            _ = try await messages.next()  // welcome
            try await outbound.write(.text(String(repeating: "x", count: 5000)))
        }
        #expect(result.close?.closeCode == .messageTooLarge)
        let stored = try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 10)
        #expect(stored.isEmpty)
        try await server.stop()
    }

    @Test func anUnknownBinaryMessageKindClosesWith1002() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let result = try await handPlayedGateway(port: server.port, logger: logs.logger("client")) { _, outbound in
            try await outbound.write(.binary(ByteBuffer(bytes: [0x7F, 1, 2, 3])))
        }
        #expect(result.close?.closeCode == .protocolError)
        #expect(logs.count(containing: "unknown binary message kind 0x7f") >= 1)
        try await server.stop()
    }

    @Test func aFailedStorageWriteClosesWith1011AndAcknowledgesNothing() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        // Another connection breaks the schema under the running server.
        try await DatabaseQueue(path: server.directory.file("server.sqlite")).write { try $0.execute(sql: "DROP TABLE readings") }
        let result = try await handPlayedGateway(port: server.port, logger: logs.logger("client")) { _, outbound in
            try await outbound.write(text(reading(1)))
        }
        #expect(result.close?.closeCode == .unexpectedServerError)
        #expect(!result.texts.contains { $0.contains(#""type":"ack""#) })
        #expect(result.texts.contains { $0.contains(#""code":"storage""#) })
        #expect(String(decoding: server.metrics.render(), as: UTF8.self).contains("serialbridge_server_storage_failures_total 1"))
        try await server.stop()
    }

    @Test func aGatewayWhoseHeartbeatsStopIsMarkedOfflineAndClosedWith4001() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"), heartbeatMs: 200) { $0.missedHeartbeats = 3 }
        let subscription = server.feed.subscribe()
        let online = Mutex<[String]>([])
        let watcher = Task {
            for await update in subscription.updates where update.contains(#""type":"gateway""#) {
                online.withLock { $0.append(update) }
            }
        }
        // Says hello, then nothing: no pings.
        let result = try await handPlayedGateway(port: server.port, logger: logs.logger("client"))
        #expect(result.close?.closeCode == .unknown(4001))
        let status = try #require(server.registry.status(of: "gw-test"))
        #expect(!status.online)
        #expect(status.disconnectReason?.hasPrefix("heartbeat timeout") == true)
        try await eventually("online and offline pushed to dashboards") { online.withLock { $0.count } >= 2 }
        #expect(online.withLock { $0[0].contains(#""online":true"#) && $0[1].contains(#""online":false"#) })
        #expect(logs.count(containing: "closing gateway gw-test's connection: heartbeat timeout") == 1)
        // Both transitions are stored as gateway events.
        try await eventually("offline event stored") {
            try await server.store.events(EventQuery(gateway: "gw-test")).map(\.kind) == ["online", "offline"]
        }
        let offline = try await server.store.events(EventQuery(gateway: "gw-test")).last
        #expect(offline?.message?.hasPrefix("heartbeat timeout") == true)
        watcher.cancel()
        try await server.stop()
    }

    @Test func shutdownClosesGatewayLinksWith1001() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let welcomed = Mutex(false)
        let client = Task {
            try await handPlayedGateway(port: server.port, logger: logs.logger("client")) { messages, _ in
                _ = try await messages.next()
                welcomed.withLock { $0 = true }
            }
        }
        try await eventually("welcome") { welcomed.withLock { $0 } }
        try await server.stop()
        let result = try await client.value
        #expect(result.close?.closeCode == .goingAway)
        #expect(server.registry.status(of: "gw-test")?.disconnectReason == "closed by the server (1001 shutting-down)")
    }

    @Test func aGatewayOverItsRateLimitIsPacedAndLosesNothing() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server")) {
            $0.gatewayRateLimit = RateLimit(perSecond: 200, burst: 10)
        }
        let result = try await handPlayedGateway(port: server.port, logger: logs.logger("client")) { inbound, outbound in
            for sequence in 1...100 { try await outbound.write(text(reading(Int64(sequence)))) }
            while let message = try await inbound.next() {
                if case .text(let text) = message, text.contains(#""seq":100"#) { break }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        _ = result
        let stored = try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 1000)
        #expect(stored.map(\.id.sequence) == Array(1...100))
        let metrics = String(decoding: server.metrics.render(), as: UTF8.self)
        #expect(!metrics.contains("serialbridge_server_rate_limited_total 0"))
        #expect(metrics.contains("serialbridge_server_readings_stored_total 100"))
        try await server.stop()
    }
}

@Suite("Server parts: pacing, live topics")
struct ServerPacingAndTopicsTests {
    @Test func theTokenBucketAllowsABurstThenPacesToTheRate() {
        var bucket = TokenBucket(limit: RateLimit(perSecond: 100, burst: 10), now: 0)
        #expect(bucket.take(10, at: 0) == 0)
        // One more is 10 ms of debt at 100/s.
        #expect(bucket.take(1, at: 0) == 10_000_000)
        // After 110 ms the debt is repaid and 10 tokens are back (capped at the burst).
        #expect(bucket.take(10, at: 1_000_000_000) == 0)
        #expect(bucket.take(20, at: 1_000_000_000) == 200_000_000)
    }

    @Test func aDashboardThatStopsReadingLosesItsOldestUpdatesAndTheyAreCounted() async {
        let feed = LiveFeed()
        let metrics = ServerMetrics()
        let subscription = feed.subscribe()
        for n in 1...(LiveFeed.bufferedUpdates + 5) { feed.publish(device: nil, "update \(n)") }
        #expect(feed.dropped == 5)
        metrics.update(from: feed)
        metrics.update(from: feed)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains("serialbridge_server_live_dropped_total 5"))
        #expect(text.contains("serialbridge_server_live_subscribers 1"))
        // What is left is the newest, in order.
        var iterator = subscription.updates.makeAsyncIterator()
        #expect(await iterator.next() == "update 6")
        feed.finishAll()
    }

    @Test func liveTopicsMatchEverythingAGatewayOrOneDevice() {
        #expect(LiveTopics(["*"]).contains(device: "gw:a"))
        #expect(LiveTopics(["gw:*"]).contains(device: "gw:a"))
        #expect(!LiveTopics(["gw:*"]).contains(device: "gx:a"))
        #expect(LiveTopics(["gw:a"]).contains(device: "gw:a"))
        #expect(!LiveTopics(["gw:a"]).contains(device: "gw:b"))
        #expect(!LiveTopics([]).contains(device: "gw:a"))
    }

    @Test func aSubscriberReceivesOnlyItsDevicesButEveryGatewayUpdate() async {
        let feed = LiveFeed()
        let subscription = feed.subscribe()
        feed.subscribe(subscription.id, to: LiveTopics(["gw:a"]))
        let built = Atomic<Int>(0)
        feed.publish(device: "gw:b", { built.add(1, ordering: .relaxed); return "b" }())
        feed.publish(device: "gw:a", "a")
        feed.publish(device: nil, "gateway")
        feed.finishAll()
        var received: [String] = []
        for await update in subscription.updates { received.append(update) }
        #expect(received == ["a", "gateway"])
        #expect(built.load(ordering: .relaxed) == 0)
    }

    @Test func liveRequestsAreParsedOrExplained() {
        #expect(LiveRequest.parse(#"{"type":"subscribe","devices":["gw:*"]}"#) == .subscribe(LiveTopics(["gw:*"])))
        #expect(LiveRequest.parse(#"{"type":"subscribe"}"#) == .invalid("subscribe.devices must be an array of device ids"))
        #expect(LiveRequest.parse("nope") != .subscribe(.everything))
    }
}

@Suite("Server operations: metrics endpoint, certificate reload", .serialized)
struct ServerOperationsTests {
    @Test func metricsAreServedInPrometheusTextFormat() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        _ = try await handPlayedGateway(port: server.port, logger: logs.logger("client")) { messages, outbound in
            try await outbound.write(text(reading(1)))
            while let message = try await messages.next() {
                if case .text(let text) = message, text.contains(#""type":"ack""#) { break }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        let scrape = try await http("GET", port: server.port, "/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(scrape.body.contains("# TYPE serialbridge_server_readings_stored_total counter"))
        #expect(metricValue(scrape.body, "serialbridge_server_readings_stored_total") == 1)
        #expect(metricValue(scrape.body, "serialbridge_server_gateway_connections_total") == 1)
        #expect(metricValue(scrape.body, "serialbridge_server_ack_latency_seconds_count") == 1)
        try await server.stop()
    }

    /// True when a wss:// connection to the server succeeds trusting only `authority`.
    private func handshake(port: Int, trusting authority: String, logger: Logger) async -> Bool {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(authority)
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(TestServer.token)"
        headers[.secWebSocketProtocol] = Subprotocol.name
        do {
            try await WebSocketClient.connect(
                url: "wss://localhost:\(port)/gateway/v1", configuration: .init(additionalHeaders: headers), tlsConfiguration: tls, logger: logger
            ) { _, outbound, _ in
                try await outbound.close(.normalClosure, reason: nil)
            }
            return true
        } catch {
            return false
        }
    }

    @Test func aRenewedCertificateIsServedToNewConnectionsAfterReload() async throws {
        let logs = LogCapture()
        let directory = try TemporaryDirectory()
        let elsewhere = try TemporaryDirectory()
        let first = try TestPKI(in: directory)
        let second = try TestPKI(name: "Renewal CA", in: elsewhere)
        let (firstCA, secondCA) = (try first.writeAuthority(), try second.writeAuthority())
        let files = try first.write(first.server(names: ["localhost"]), as: "server")
        let tls = try ServerTLS(certificateFile: files.certificate, keyFile: files.key)
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"), tls: try tls.configuration)
        #expect(await handshake(port: server.port, trusting: firstCA, logger: logs.logger("client")))
        #expect(!(await handshake(port: server.port, trusting: secondCA, logger: logs.logger("client"))))

        let renewed = try second.write(second.server(names: ["localhost"]), as: "server")
        try directory.write("server.pem", String(contentsOfFile: renewed.certificate, encoding: .utf8))
        try directory.write("server.key", String(contentsOfFile: renewed.key, encoding: .utf8))
        try tls.reload()
        #expect(await handshake(port: server.port, trusting: secondCA, logger: logs.logger("client")))
        #expect(!(await handshake(port: server.port, trusting: firstCA, logger: logs.logger("client"))))

        // A broken file keeps the certificate in use.
        try directory.write("server.key", "not a key\n")
        #expect(throws: (any Error).self) { try tls.reload() }
        #expect(await handshake(port: server.port, trusting: secondCA, logger: logs.logger("client")))
        try await server.stop()
    }
}

@Suite("Storage group commit")
struct GroupCommitTests {
    @Test func concurrentBatchesShareTransactionsAndEachGetsItsOwnNewReadings() async throws {
        let directory = try TemporaryDirectory()
        let storage = try SQLiteStorage(path: directory.file("group.sqlite"))
        func batch(_ gateway: Int, _ sequences: ClosedRange<Int64>) -> [Reading] {
            sequences.map { sequence in
                Reading(
                    gateway: "gw-\(gateway)", id: ReadingID(epoch: 1, sequence: sequence), device: "d", profile: "p",
                    timestamp: 1_800_000_000_000 + sequence, values: [NamedValue(name: "n", value: .integer(sequence))]
                )
            }
        }
        // 50 gateways × 4 messages at once, the last message of each repeating the first (a resend).
        let results = try await withThrowingTaskGroup(of: (Int, Int, [Reading]).self) { group in
            for gateway in 0..<50 {
                for message in 0..<4 {
                    let sequences: ClosedRange<Int64> = message == 3 ? 1...5 : Int64(message * 5 + 1)...Int64(message * 5 + 5)
                    group.addTask { (gateway, message, try await storage.insert(batch(gateway, sequences), receivedAt: 0)) }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for gateway in 0..<50 {
            let fresh = results.filter { $0.0 == gateway }.flatMap(\.2).map(\.id.sequence).sorted()
            #expect(fresh == Array(1...15), "gateway \(gateway): every reading reported new exactly once")
            let stored = try await storage.readings(gateway: "gw-\(gateway)", device: "d", limit: 100)
            #expect(stored.map(\.id.sequence) == Array(1...15))
        }
    }
}
