import Foundation
import Logging
@testable import SerialBridgeGateway
import Testing

/// The metrics endpoint as an HTTP/1.1 server: routes, methods, bounds, malformed requests,
/// keep-alive and closing at shutdown. (What it serves is in MetricsEndpointTests.)
@Suite("Metrics endpoint HTTP", .serialized)
struct MetricsHTTPTests {
    /// A gateway with no devices whose server does not answer: only its metrics endpoint matters.
    struct Running {
        let gateway: TestGateway
        let port: Int
        let dir: TemporaryDirectory
    }

    func start(_ logs: LogCapture) async throws -> Running {
        let dir = try TemporaryDirectory()
        let config = try writeGatewayConfig(in: dir, serverPort: freePort(), profiles: Repository.profiles)
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        try await eventually("the endpoint bound", logs: logs) { running.gateway.metricsAddress != nil }
        let port = try #require(running.gateway.metricsAddress?.port)
        return Running(gateway: running, port: port, dir: dir)
    }

    /// Sends `request` as is on a new connection and reads to the end of the stream.
    func exchange(_ port: Int, _ request: String) async throws -> (reply: HTTPAnswer, connection: RawConnection) {
        try await offThePool {
            let connection = try RawConnection(port: port)
            connection.send(request)
            let head = try connection.readHead()
            connection.readToEnd()
            return (try RawReply(head: head, body: connection.received), connection)
        }
    }

    @Test func knownPathsAnswerGetAndHeadOthersAre404Or405() async throws {
        let logs = LogCapture()
        let running = try await start(logs)
        let port = running.port

        let metrics = try await http("GET", port: port, "/metrics?name[]=serialbridge_link_state")
        #expect(metrics.status == 200)
        #expect(metrics.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(metrics.header("content-length") == String(metrics.body.utf8.count))
        #expect(metrics.header("server") == "serialbridge-gateway")
        #expect(metrics.header("date")?.hasSuffix(" GMT") == true)
        #expect(metrics.header("connection") == "close")
        #expect(metrics.body.contains("# TYPE serialbridge_link_state gauge"))

        let head = try await http("HEAD", port: port, "/metrics")
        #expect(head.status == 200)
        #expect(head.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(Int(head.header("content-length") ?? "") ?? 0 > 0)
        #expect(head.body.isEmpty)

        let health = try await http("GET", port: port, "/healthz")
        #expect(health.status == 200)
        #expect(health.header("content-type") == "application/json")
        #expect(health.json["status"] == .string("ok"))
        let status = try await http("GET", port: port, "/status")
        #expect(status.status == 200)
        #expect(status.json["gateway"] == .string("gw-test"))

        for path in ["/", "/nothing", "/metrics/extra", "/METRICS"] {
            let answer = try await http("GET", port: port, path)
            #expect(answer.status == 404, "\(path)")
            #expect(answer.header("content-length") == "0")
            #expect(answer.body.isEmpty)
        }
        for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
            let answer = try await http(method, port: port, "/metrics", body: method == "POST" ? "{}" : nil)
            #expect(answer.status == 405, "\(method)")
            #expect(answer.header("allow") == "GET, HEAD")
        }
        #expect(try await http("POST", port: port, "/nothing").status == 404)
        try await running.gateway.stop()
    }

    @Test func malformedAndOversizedRequestsAreRefusedAndTheConnectionClosed() async throws {
        let logs = LogCapture()
        let running = try await start(logs)
        let port = running.port

        for garbage in ["THIS IS NOT HTTP\r\n\r\n", "GET metrics HTTP/1.1\r\nHost: x\r\n\r\n", "GET /metrics HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", "GET /metrics HTTP/9.9\r\n\r\n"] {
            let (reply, connection) = try await exchange(port, garbage)
            #expect(reply.status == 400, "\(garbage.debugDescription)")
            #expect(Self.closed(connection), "\(garbage.debugDescription)")
        }
        // A head over the limit (16 KiB of fields).
        let big = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: \(String(repeating: "a", count: 20_000))\r\n\r\n"
        let (bigReply, bigConnection) = try await exchange(port, big)
        #expect(bigReply.status == 400)
        #expect(Self.closed(bigConnection))
        // A body over the limit: refused before it has all arrived.
        let length = MetricsHTTPHandler.maximumBodyBytes + 1
        let body = "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(length)\r\n\r\n\(String(repeating: "b", count: length))"
        let (bodyReply, bodyConnection) = try await exchange(port, body)
        #expect(bodyReply.status == 413)
        #expect(Self.closed(bodyConnection))

        // The endpoint serves on, and the gateway logged nothing above debug about it.
        #expect(try await http("GET", port: port, "/healthz").status == 200)
        #expect(logs.count(containing: "metrics endpoint cannot listen") == 0)
        try await running.gateway.stop()
    }

    @Test func aKeptAliveConnectionServesSeveralRequestsAndClosesWhenAsked() async throws {
        let logs = LogCapture()
        let running = try await start(logs)
        let port = running.port
        let connection = try await offThePool { try RawConnection(port: port) }

        // Two requests sent at once (pipelined), then one more: all on the one connection.
        let first = try await offThePool {
            connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /status HTTP/1.1\r\nHost: x\r\n\r\n")
            return try Self.readAnswer(connection)
        }
        #expect(first.status == 200)
        #expect(first.header("connection") == nil)
        #expect(first.json["status"] == .string("ok"))
        let second = try await offThePool { try Self.readAnswer(connection, bodyless: true) }
        #expect(second.status == 200)
        #expect(second.body.isEmpty)
        let third = try await offThePool {
            connection.send("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
            return try Self.readAnswer(connection)
        }
        #expect(third.status == 404)
        // Connection: close is answered, then the server closes.
        let last = try await offThePool {
            connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let answer = try Self.readAnswer(connection)
            connection.readToEnd()
            return answer
        }
        #expect(last.status == 200)
        #expect(last.header("connection") == "close")
        #expect(connection.lastEnd == "end of stream")

        // HTTP/1.0 closes unless asked to keep alive.
        let (old, oldConnection) = try await exchange(port, "GET /healthz HTTP/1.0\r\n\r\n")
        #expect(old.status == 200)
        #expect(oldConnection.lastEnd == "end of stream")
        let kept = try await offThePool {
            let connection = try RawConnection(port: port)
            connection.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let answer = try Self.readAnswer(connection)
            connection.send("GET /healthz HTTP/1.0\r\n\r\n")
            let again = try Self.readAnswer(connection)
            connection.readToEnd()
            return (answer, again, connection.lastEnd)
        }
        #expect(kept.0.header("connection") == "keep-alive")
        #expect(kept.1.status == 200)
        #expect(kept.2 == "end of stream")
        try await running.gateway.stop()
    }

    @Test func shutdownClosesIdleConnectionsAndStopsListening() async throws {
        let logs = LogCapture()
        let running = try await start(logs)
        let port = running.port
        let connection = try await offThePool { try RawConnection(port: port) }
        let answer = try await offThePool {
            connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return try Self.readAnswer(connection)
        }
        #expect(answer.status == 200)
        try await running.gateway.stop()
        #expect(running.gateway.gateway.metricsAddress == nil)
        let end = try await offThePool {
            connection.readToEnd()
            return connection.lastEnd
        }
        #expect(end == "end of stream")
        // Nothing listens any more.
        #expect(throws: TimedOut.self) { try RawConnection(port: port) }
    }

    @Test func httpDatesAreIMFFixdates() {
        #expect(HTTPDate.string(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.string(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.string(1_798_761_599) == "Thu, 31 Dec 2026 23:59:59 GMT")
    }

    /// Whether the server closed `connection` (a reset when it closed with bytes of ours unread).
    static func closed(_ connection: RawConnection) -> Bool {
        connection.lastEnd == "end of stream" || connection.lastEnd.contains("reset by peer")
    }

    /// Reads one answer off a kept-alive connection: its head and `Content-Length` bytes of body
    /// (none after a HEAD request).
    static func readAnswer(_ connection: RawConnection, bodyless: Bool = false) throws -> HTTPAnswer {
        let head = try connection.readHead()
        let probe = try RawReply(head: head, body: [])
        let length = bodyless ? 0 : Int(probe.header("content-length") ?? "0") ?? 0
        while connection.received.count < length {
            guard connection.receiveMore() else { throw TimedOut(what: "\(length) bytes of body") }
        }
        let body = Array(connection.received.prefix(length))
        connection.consume(length)
        return try RawReply(head: head, body: body)
    }
}
