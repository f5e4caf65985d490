import HTTPTypes
import Logging
import SerialBridgeGateway
import SerialBridgeSerial
import SerialBridgeSimulator
@testable import SerialBridgeUplink
import Testing

@Suite("Close codes: the gateway's reaction to each")
struct CloseReactionTableTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var code: UInt16
        var wait: CloseReaction.Wait
        var nextURL = false
        var auth = false
        var shrink = false
        var level: Logger.Level
        var testDescription: String { "\(code)" }
    }

    static let table: [Row] = [
        Row(code: 1000, wait: .backoff, level: .info),
        Row(code: 1001, wait: .brief, nextURL: true, level: .info),
        Row(code: 1002, wait: .backoff, level: .error),
        Row(code: 1003, wait: .backoff, level: .error),
        Row(code: 1007, wait: .backoff, level: .error),
        Row(code: 1008, wait: .cap, auth: true, level: .error),
        Row(code: 1009, wait: .backoff, shrink: true, level: .error),
        Row(code: 1011, wait: .backoff, level: .warning),
        Row(code: 1012, wait: .brief, level: .info),
        Row(code: 1013, wait: .cap, level: .warning),
        Row(code: 4000, wait: .cap, level: .error),
        // Observed locally, never sent: a peer that sends one anyway gets the default.
        Row(code: 1005, wait: .backoff, level: .warning),
        Row(code: 1006, wait: .backoff, level: .warning),
        Row(code: 1015, wait: .backoff, level: .warning),
        Row(code: 4999, wait: .backoff, level: .warning),
    ]

    @Test(arguments: table)
    func eachCodeHasItsDocumentedReaction(_ row: Row) {
        let reaction = CloseReaction.of(row.code)
        #expect(reaction.wait == row.wait)
        #expect(reaction.triesNextURL == row.nextURL)
        #expect(reaction.asksAuthEndpoint == row.auth)
        #expect(reaction.shrinksMessages == row.shrink)
        #expect(reaction.level == row.level)
        #expect(!reaction.meaning.isEmpty)
    }

    @Test func aBriefDelayIsShortJitteredAndNoFailedAttempt() {
        var random = SplitMix64(seed: 3)
        let backoff = Backoff(initial: .seconds(5), cap: .seconds(60))
        var delays: Set<Duration> = []
        for _ in 0..<200 {
            let delay = backoff.briefDelay(using: &random)
            #expect(delay >= backoff.floor && delay <= .seconds(1))
            delays.insert(delay)
        }
        #expect(backoff.attempts == 0)
        #expect(delays.count > 150)
        let small = Backoff(initial: .milliseconds(200), cap: .seconds(1))
        for _ in 0..<100 { #expect(small.briefDelay(using: &random) <= .milliseconds(200)) }
    }
}

/// Gateways against a stub server that welcomes them and then closes with one code.
@Suite("Close codes: against a server that closes", .serialized)
struct CloseCodeLinkTests {
    /// Runs a gateway against a stub closing with `code` until `enough` holds; returns the logs.
    func run(
        closingWith code: UInt16, reason: String? = nil, authStatus: HTTPResponse.Status = .ok,
        until enough: @escaping @Sendable (StubLinkServer, Uplink) -> Bool
    ) async throws -> (LogCapture, LinkHealth, authRequests: Int) {
        let logs = LogCapture()
        let stub = try await StubLinkServer(.welcomeThenClose(code: code, reason: reason), authStatus: authStatus, logger: logs.logger("stub"))
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        let config = try writeLinkConfig(in: dir, url: "ws://127.0.0.1:\(stub.port)/gateway/v1", device: device.slavePath, extra: "")
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let uplink = running.gateway.uplink
        try await eventually("enough closes with \(code)", logs: logs) { enough(stub, uplink) }
        try await running.stop()
        let authRequests = stub.authRequests
        try await stub.stop()
        return (logs, uplink.health, authRequests)
    }

    /// The `(attempt N)` numbers of the retry log lines, in order.
    func attempts(_ logs: LogCapture) -> [Int] {
        logs.messages.filter { $0.contains("retrying in") }.compactMap { line in
            line.split(separator: "(attempt ").last.flatMap { Int($0.prefix { $0.isNumber }) }
        }
    }

    /// The delays of the retry log lines, in milliseconds.
    func delays(_ logs: LogCapture) -> [Int] {
        logs.messages.filter { $0.contains("retrying in") }.compactMap { line in
            line.split(separator: "retrying in ").last.flatMap { Int($0.prefix { $0.isNumber }) }
        }
    }

    @Test func aServerGoingAwayIsRedialledPromptlyAndNotCountedAsAFailure() async throws {
        let (logs, health, authRequests) = try await run(closingWith: 1001, reason: "server shutting down") { _, uplink in
            uplink.health.serverCloses[1001, default: 0] >= 4
        }
        #expect(logs.count(containing: "with 1001 (going away (server shutting down)): server shutting down; redialling shortly") >= 4)
        let attempts = attempts(logs)
        #expect(attempts.count >= 4 && attempts.allSatisfy { $0 == 0 }, "\(attempts)")
        #expect(health.endings[.closedByServer, default: 0] >= 4)
        #expect(health.lastCloseCode == 1001)
        #expect(authRequests == 0)
    }

    @Test func aServerErrorBacksOffExponentially() async throws {
        let (logs, health, _) = try await run(closingWith: 1011) { _, uplink in
            uplink.health.serverCloses[1011, default: 0] >= 3
        }
        #expect(logs.count(containing: "with 1011 (server error (e.g. its storage failed)); redialling with backoff") >= 3)
        #expect(Array(attempts(logs).prefix(3)) == [1, 2, 3])
        #expect(health.serverCloses[1011, default: 0] >= 3)
    }

    @Test func aPolicyViolationAsksTheAuthEndpointAndWaitsTheLongestBackoff() async throws {
        let (logs, _, authRequests) = try await run(closingWith: 1008, authStatus: .unauthorized) { stub, _ in
            stub.authRequests >= 2
        }
        #expect(authRequests >= 2)
        #expect(logs.count(containing: #"server refused the token for gateway "gw-test": unknown token (HTTP 401 from /gateway/v1/auth)"#) >= 2)
        #expect(logs.count(containing: "waiting the longest backoff before redialling") >= 2)
        // The config's cap is 200 ms: every wait lies between half the cap and the cap.
        let delays = delays(logs)
        #expect(!delays.isEmpty && delays.allSatisfy { (100...200).contains($0) }, "\(delays)")
    }

    @Test func anOverloadedServerGetsTheLongestBackoffWithoutAnAuthQuestion() async throws {
        let (logs, _, authRequests) = try await run(closingWith: 1013, reason: "rate limited") { _, uplink in
            uplink.health.serverCloses[1013, default: 0] >= 2
        }
        #expect(authRequests == 0)
        let delays = delays(logs)
        #expect(!delays.isEmpty && delays.allSatisfy { (100...200).contains($0) }, "\(delays)")
    }

    @Test func aMessageTooBigHalvesTheLargestMessageSent() async throws {
        let (logs, _, _) = try await run(closingWith: 1009) { _, uplink in
            uplink.health.serverCloses[1009, default: 0] >= 2
        }
        #expect(logs.count(containing: "sending messages of at most 32768 bytes from now on") == 1)
        #expect(logs.count(containing: "sending messages of at most 16384 bytes from now on") == 1)
    }
}
