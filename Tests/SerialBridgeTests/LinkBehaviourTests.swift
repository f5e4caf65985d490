import Foundation
import Logging
import SerialBridgeGateway
import SerialBridgeProtocol
import SerialBridgeSerial
import SerialBridgeUplink
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A loopback port nobody listens on (bound, then released).
func freePort() -> Int {
    // The socket is closed as the port is returned: free, for whoever binds it next.
    (try? RefusingPort())?.port ?? 0
}

/// A loopback port where nothing listens and nothing else can: a socket bound to it but not
/// listening, so connections are refused (as with ``freePort()``) for as long as this lives, even
/// while other tests of the process bind ports of their own.
final class RefusingPort: Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard descriptor >= 0, bound else { throw TimedOut(what: "a port to refuse connections on") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}

/// A gateway config for one csv device with free-form extra top-level JSON members.
func writeLinkConfig(in dir: TemporaryDirectory, url: String, device: String, extra: String) throws -> String {
    try dir.write("token", TestServer.token + "\n")
    try dir.write("gateway.json", """
    {
      "gatewayId": "gw-test",
      "server": { "url": "\(url)", "tokenFile": "token" \(extra.contains("fallbackUrls") ? "" : "") },
      "stateDirectory": "state",
      "profileFolders": ["\(Repository.profiles)"],
      "ports": [{ "device": "sensor-1", "path": "\(device)", "profile": "generic-csv-lines" }],
      "discovery": false,
      "reconnect": { "initialDelayMs": 20, "maxDelayMs": 200 },
      "metrics": { "listen": "127.0.0.1:0" },
      "logLevel": "debug"\(extra)
    }
    """)
    return dir.file("gateway.json")
}

@Suite("Link pieces: rtnetlink parsing, link health")
struct LinkPiecesTests {
    @Test func routeNetlinkMessagesAreRead() {
        // nlmsghdr (len, type, flags, seq, pid) + ifinfomsg (family, pad, type, index, flags, change), host order.
        func message(type: UInt16, body: [UInt8]) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: UInt32(16 + body.count)) { bytes += $0 }
            withUnsafeBytes(of: type) { bytes += $0 }
            bytes += [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            return bytes + body
        }
        func link(index: Int32, flags: UInt32) -> [UInt8] {
            var body: [UInt8] = [2, 0, 1, 0]
            withUnsafeBytes(of: index) { body += $0 }
            withUnsafeBytes(of: flags) { body += $0 }
            return body + [0, 0, 0, 0]
        }
        func address(index: Int32, scope: UInt8) -> [UInt8] {
            var body: [UInt8] = [2, 24, 0, scope]
            withUnsafeBytes(of: index) { body += $0 }
            return body
        }
        let datagram = message(type: 16, body: link(index: 3, flags: 0x41))
            + message(type: 16, body: link(index: 4, flags: 0x01))    // up, no carrier
            + message(type: 16, body: link(index: 1, flags: 0x49))    // loopback
            + message(type: 20, body: address(index: 3, scope: 0))
            + message(type: 20, body: address(index: 1, scope: 254))  // host scope
            + [1, 2, 3]                                               // a torn tail
        let changes = datagram.withUnsafeBytes { RouteNetlink.changes(in: $0) }
        #expect(changes == [NetworkChange(kind: .linkUp, interface: 3), NetworkChange(kind: .addressAdded, interface: 3)])
    }

    @Test func roundTripStatisticsUseTheRecentSamples() {
        var health = LinkHealth()
        #expect(health.meanRoundTrip == nil && health.p99RoundTrip == nil)
        for rtt in 1...100 { health.recordRoundTrip(milliseconds: Int64(rtt)) }
        #expect(health.lastRoundTrip == 100)
        #expect(health.meanRoundTrip == 50.5)
        #expect(health.p99RoundTrip == 99)
        for _ in 0..<LinkHealth.sampleCount { health.recordRoundTrip(milliseconds: 7) }
        #expect(health.p99RoundTrip == 7)
        health.ended(.heartbeatTimeout)
        health.ended(.heartbeatTimeout)
        health.ended(.dropped)
        #expect(health.reconnects == 3 && health.endings[.heartbeatTimeout] == 2)
    }
}

@Suite("Link behaviour: dead links, failover, connection age", .serialized)
struct LinkBehaviourTests {
    @Test func aSilentLinkIsDeclaredDeadAndRedialled() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"), heartbeatMs: 100)
        let proxy = try SilentProxy(upstream: server.port)
        defer { proxy.stop() }
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        let config = try writeLinkConfig(in: dir, url: "ws://127.0.0.1:\(proxy.port)/gateway/v1", device: device.slavePath, extra: "")
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let uplink = running.gateway.uplink
        for n in 1...10 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("10 readings stored") { try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100).count == 10 }
        try await eventually("round trips measured") { uplink.health.lastRoundTrip != nil }

        proxy.silence()
        for n in 11...20 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("the dead link noticed") { uplink.health.endings[.heartbeatTimeout] == 1 }
        #expect(logs.count(containing: "link dead: 3 heartbeats unanswered; redialling") == 1)
        proxy.resume()
        try await eventually("readings written during the silence arrive over a new connection") {
            try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100).count == 20
        }
        #expect(proxy.connections >= 2, "proxy connections \(proxy.connections), uplink connections \(uplink.health.connections)")
        #expect(uplink.health.totalMissedBeats >= 3)
        try await running.stop()
        // The server still holds the black-holed connection: cut it so shutdown need not time out.
        proxy.stop()
        try await server.stop()
    }

    @Test func failoverToTheSecondURLAndBack() async throws {
        let logs = LogCapture()
        let firstPort = freePort()
        let second = try await TestServer(gateway: "gw-test", logger: logs.logger("second"))
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        let config = try writeLinkConfig(
            in: dir, url: "ws://127.0.0.1:\(firstPort)/gateway/v1", device: device.slavePath,
            extra: ""
        )
        // Add the fallback list to the server object.
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: #""tokenFile": "token" "#, with: #""tokenFile": "token", "fallbackUrls": ["ws://127.0.0.1:\#(second.port)/gateway/v1"] "#)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        for n in 1...5 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("readings at the second server") {
            try await second.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100).count == 5
        }
        // The first comes up, the second goes away: the gateway goes back to the first.
        let first = try await TestServer(directory: TemporaryDirectory(), port: firstPort, gateway: "gw-test", logger: logs.logger("first"))
        try await second.stop()
        for n in 6...10 { try device.write(Array("\(n),1\n".utf8)) }
        try await eventually("readings at the first server") {
            try await first.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100).count >= 5
        }
        #expect(running.gateway.uplink.health.server == "ws://127.0.0.1:\(firstPort)/gateway/v1")
        try await running.stop()
        try await first.stop()
    }

    @Test func connectionAgeRolloverLosesAndRepeatsNothing() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        let config = try writeLinkConfig(
            in: dir, url: "ws://127.0.0.1:\(server.port)/gateway/v1", device: device.slavePath,
            extra: #", "uplink": { "maxConnectionAgeMs": 200 }"#
        )
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let uplink = running.gateway.uplink
        var written = 0
        // Keep readings flowing across at least three rollovers.
        while uplink.health.endings[.connectionAge, default: 0] < 3 {
            for _ in 0..<50 {
                written += 1
                try device.write(Array("\(written).5,1\n".utf8))
            }
            let target = written
            try await eventually("\(target) stored") {
                try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100_000).count == target
            }
        }
        let readings = try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100_000)
        #expect(readings.count == written)
        let expected = (1...written).map { #"{"temperature":\#($0).5,"humidity":1.0}"# }
        let mismatch = zip(readings.map(\.valuesJSON), expected).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(mismatch == nil, "first difference at reading \(mismatch?.offset ?? 0)")
        // Every frame went out exactly once: the readings and the one `attached` event.
        #expect(uplink.health.framesOut == UInt64(written + 1), "frames sent \(uplink.health.framesOut) for \(written) readings")
        try await eventually("a fourth connection") { uplink.health.connections >= 4 }
        try await running.stop()
        try await server.stop()
    }
}
