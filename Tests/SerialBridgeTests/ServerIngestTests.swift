import HTTPTypes
import Logging
import SerialBridgeProtocol
import SerialBridgeServer
import Synchronization
import Testing
import WSClient

/// A gateway played by hand over a real WebSocket: sends `messages` after hello, collects acks
/// until one reaches `until`, and returns the welcome's mark and every ack.
func speakToServer(
    port: Int, hello: Hello, messages: [Message], until last: ReadingID, logger: Logger
) async throws -> (acked: ReadingID?, acks: [ReadingID]) {
    var headers = HTTPFields()
    headers[.authorization] = "Bearer \(TestServer.token)"
    headers[.secWebSocketProtocol] = Subprotocol.name
    let result = Mutex<(acked: ReadingID?, acks: [ReadingID])>((nil, []))
    try await WebSocketClient.connect(
        url: "ws://127.0.0.1:\(port)/gateway/v1", configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers), logger: logger
    ) { inbound, outbound, _ in
        try await outbound.write(.text(String(decoding: MessageCodec.encode(.hello(hello)), as: UTF8.self)))
        var replies = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
        guard case .text(let text)? = try await replies.next(), case .welcome(let welcome) = try MessageCodec.decode(text.utf8) else {
            Issue.record("no welcome")
            return
        }
        result.withLock { $0.acked = welcome.acked }
        for message in messages {
            try await outbound.write(.text(String(decoding: MessageCodec.encode(message), as: UTF8.self)))
        }
        while case .text(let text)? = try await replies.next() {
            guard case .ack(let ack) = try MessageCodec.decode(text.utf8) else { continue }
            result.withLock { $0.acks.append(ack.id) }
            if ack.id >= last { break }
        }
        try await outbound.close(.normalClosure, reason: nil)
    }
    return result.withLock { $0 }
}

@Suite("Server ingest through the real stack", .serialized)
struct ServerIngestTests {
    static func reading(_ epoch: Int64, _ sequence: Int64) -> Message {
        .reading(Reading(
            gateway: "gw-test", id: ReadingID(epoch: epoch, sequence: sequence), device: "sensor-1", profile: "p",
            timestamp: sequence, values: [NamedValue(name: "n", value: .integer(sequence))]
        ))
    }

    @Test(arguments: StorageBackend.available)
    func aResentReadingIsStoredOnceAndAcknowledgedAgain(_ backend: StorageBackend) async throws {
        let logs = LogCapture()
        let database = try await backend.serverDatabase()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server")) { options in
            if let database { options.database = database }
        }
        let hello = Hello(gateway: "gw-test", software: "test", epoch: 5, lastSequence: 3, dropped: 7)
        // Duplicates inside one connection (a gateway that rewound) …
        let first = try await speakToServer(
            port: server.port, hello: hello,
            messages: [Self.reading(5, 1), Self.reading(5, 2), Self.reading(5, 1), Self.reading(5, 2), Self.reading(5, 3)],
            until: ReadingID(epoch: 5, sequence: 3), logger: logs.logger("client")
        )
        #expect(first.acked == nil)
        #expect(first.acks.last == ReadingID(epoch: 5, sequence: 3))
        #expect(first.acks.allSatisfy { $0 <= ReadingID(epoch: 5, sequence: 3) })
        // … and across connections (a gateway that restarted before the acks reached it).
        let second = try await speakToServer(
            port: server.port, hello: Hello(gateway: "gw-test", software: "test", epoch: 5, lastSequence: 4, dropped: 7),
            messages: [Self.reading(5, 2), Self.reading(5, 3), Self.reading(5, 4)],
            until: ReadingID(epoch: 5, sequence: 4), logger: logs.logger("client")
        )
        #expect(second.acked == ReadingID(epoch: 5, sequence: 3))
        #expect(second.acks.last == ReadingID(epoch: 5, sequence: 4))

        let stored = try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100)
        #expect(stored.map(\.id.sequence) == [1, 2, 3, 4])
        #expect(stored.map(\.valuesJSON) == (1...4).map { #"{"n":\#($0)}"# })
        #expect(try await server.store.devices().first?.readingCount == 4)
        // The spool's dropped count is kept and logged.
        #expect(try await server.store.gatewayStatus(gateway: "gw-test")?.dropped == 7)
        #expect(logs.count(containing: "gateway reports 7 more frames dropped by its spool") == 1)
        try await server.stop()
    }
}
