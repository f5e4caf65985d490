import Foundation
import Logging
import SerialBridgeSerial
import SerialBridgeServer
import Testing

/// Runs a command, returning its exit status and output.
@discardableResult
func runCommand(_ arguments: [String], output: String? = nil) throws -> (status: Int32, text: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

/// A network namespace with a veth pair to the host, made and removed by the test:
/// host side `10.231.N.1/30`, namespace side `10.231.N.2/30`.
final class TestNamespace: Sendable {
    let name: String
    let hostAddress: String
    let inside: String

    init() throws {
        let tag = String(UInt32.random(in: 0...0xFFFF), radix: 16)
        let octet = Int.random(in: 1...250)
        name = "sbt-\(tag)"
        inside = "vn\(tag)"
        let outside = "vh\(tag)"
        hostAddress = "10.231.\(octet).1"
        for command in [
            ["ip", "netns", "add", name],
            ["ip", "link", "add", outside, "type", "veth", "peer", "name", inside],
            ["ip", "link", "set", inside, "netns", name],
            ["ip", "addr", "add", "\(hostAddress)/30", "dev", outside],
            ["ip", "link", "set", outside, "up"],
            ["ip", "netns", "exec", name, "ip", "addr", "add", "10.231.\(octet).2/30", "dev", inside],
            ["ip", "netns", "exec", name, "ip", "link", "set", inside, "up"],
            ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
        ] {
            let (status, text) = try runCommand(command)
            guard status == 0 else {
                _ = try? runCommand(["ip", "netns", "del", name])
                throw TimedOut(what: "\(command.joined(separator: " ")) failed: \(text)")
            }
        }
    }

    func setLink(up: Bool) throws {
        try runCommand(["ip", "netns", "exec", name, "ip", "link", "set", inside, up ? "up" : "down"])
    }

    /// Removes the namespace (and with it both ends of the veth pair).
    func remove() {
        _ = try? runCommand(["ip", "netns", "del", name])
    }
}

@Suite("Network namespace: the gateway redials when its network comes back", .serialized)
struct NetworkNamespaceTests {
    static var canRun: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    @Test func linkDownAndUpRedialsAtOnceOnTheNetlinkEvent() async throws {
        guard Self.canRun else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("CI must run this test as root with iproute2 installed") }
            print("skipped: needs root and /usr/sbin/ip (network namespaces)")
            return
        }
        let binary = Repository.root.appendingPathComponent(".build/debug/serialbridge").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("build the serialbridge product first (swift build): \(binary)")
            return
        }
        let namespace = try await offThePool { try TestNamespace() }
        defer { namespace.remove() }
        let logs = LogCapture()
        let server = try await TestServer(
            directory: TemporaryDirectory(), port: 0, gateway: "gw-test", logger: logs.logger("server"),
            heartbeatMs: 200, host: namespace.hostAddress
        ) { options in
            // Beyond loopback the server needs a login for people (gateways use their own tokens).
            options.auth.adminToken = try? AdminToken("admin-0123456789abcdef0123456789")
        }
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        // A backoff of minutes: only the network-up event can bring the link back within the test.
        var config = try writeLinkConfig(
            in: dir, url: "ws://\(namespace.hostAddress):\(server.port)/gateway/v1", device: device.slavePath, extra: ""
        )
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text = text.replacingOccurrences(of: #""initialDelayMs": 20, "maxDelayMs": 200"#, with: #""initialDelayMs": 120000, "maxDelayMs": 600000"#)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        config = dir.file("gateway.json")
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        gateway.arguments = ["netns", "exec", namespace.name, binary, "run", "--config", config]
        let logFile = dir.file("gateway.log")
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        gateway.standardOutput = handle
        gateway.standardError = handle
        try gateway.run()
        defer {
            gateway.terminate()
            gateway.waitUntilExit()
        }
        @Sendable func log() -> String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
        @Sendable func stored() async throws -> Int { try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100).count }

        for n in 1...5 { try device.write(Array("\(n).5,1\n".utf8)) }
        try await eventually("5 readings through the namespace") { try await stored() == 5 }

        try await offThePool { try namespace.setLink(up: false) }
        try await eventually("the gateway waits out a long backoff") {
            let text = log()
            return text.contains("link dead") && text.contains("retrying in")
        }
        for n in 6...10 { try device.write(Array("\(n).5,1\n".utf8)) }
        try await offThePool { try namespace.setLink(up: true) }
        try await eventually("redialled on the network-up event") { log().contains("network up: redialling now") }
        try await eventually("readings made while the link was down arrive") { try await stored() == 10 }
        gateway.terminate()
        gateway.waitUntilExit()
        try await server.stop()
    }
}
