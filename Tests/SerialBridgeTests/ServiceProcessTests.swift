import Foundation
import Logging
import SerialBridgeSerial
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A built binary run as a child with extra environment (a notify socket), its output in a log file.
struct NotifiedChild {
    let process: Process
    let log: String

    init(_ executable: String, _ arguments: [String], environment: [String: String], log: String) throws {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = output
        self.log = log
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Sends `signal`; with `wait`, returns how long the process took to exit after it.
    @discardableResult
    func signal(_ number: Int32, wait: Bool = false) async throws -> Duration {
        let start = ContinuousClock.now
        kill(pid, number)
        guard wait else { return .zero }
        let process = self.process
        try await offThePool { process.waitUntilExit() }
        return ContinuousClock.now - start
    }
}

/// Runs a built binary to its end: exit status, standard output, standard error.
func runBinary(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
    let run = try await HostTool.run([executable] + arguments)
    return (run.status, run.stdout, run.stderr)
}

func milliseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
}

@Suite("Service manager: the gateway and server binaries under a notify socket", .serialized)
struct ServiceProcessTests {
    static func gatewayConfig(
        in directory: TemporaryDirectory, serverPort: Int, metricsPort: Int, gateway: String, devices: [(String, String)]
    ) throws -> String {
        let ports = devices.map { #"{ "device": "\#($0.0)", "path": "\#($0.1)", "profile": "generic-csv-lines" }"# }.joined(separator: ", ")
        try directory.write("token", TestServer.token + "\n")
        try directory.write("gateway.json", """
        {
          "gatewayId": "\(gateway)",
          "server": { "url": "ws://127.0.0.1:\(serverPort)/gateway/v1", "tokenFile": "token" },
          "stateDirectory": "state",
          "profileFolders": ["\(Repository.profiles)"],
          "ports": [\(ports)],
          "reconnect": { "initialDelayMs": 20, "maxDelayMs": 200 },
          "metrics": { "listen": "127.0.0.1:\(metricsPort)" },
          "logLevel": "debug"
        }
        """)
        return directory.file("gateway.json")
    }

    /// `serialbridge status --json`, parsed.
    static func status(_ binary: String, config: String) async throws -> [String: Any] {
        let (code, output, error) = try await runBinary(binary, ["status", "--config", config, "--json"])
        guard code == 0, let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw TimedOut(what: "status --json: exit \(code): \(error)")
        }
        return object
    }

    static func device(_ status: [String: Any], _ id: String) -> [String: Any]? {
        (status["devices"] as? [[String: Any]])?.first { $0["id"] as? String == id }
    }

    @Test func theGatewayBinaryNotifiesAnswersStatusReloadsOnHangupAndStopsCleanlyOnTerm() async throws {
        guard let binary = BuiltProducts.path("serialbridge") else {
            Issue.record("the serialbridge executable is not built; run `swift build --build-tests` first")
            return
        }
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let spy = try CloseSpyProxy(upstream: server.port)
        defer { spy.stop() }
        let directory = try TemporaryDirectory()
        let first = try PseudoTerminal()
        defer { first.close() }
        let metricsPort = freePort()
        let config = try Self.gatewayConfig(
            in: directory, serverPort: spy.port, metricsPort: metricsPort, gateway: "gw-test", devices: [("sensor-1", first.slavePath)]
        )
        let listener = try NotifyListener(directory: directory)

        // Start: READY=1 once devices are enumerated and the sessions started.
        let started = ContinuousClock.now
        let child = try NotifiedChild(
            binary, ["run", "--config", config],
            environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"], log: directory.file("gateway.log")
        )
        defer { if child.process.isRunning { kill(child.pid, SIGKILL) } }
        try await listener.wait(for: "READY=1")
        let startup = ContinuousClock.now - started
        #expect(child.output.contains("present device(s) enumerated"))
        for n in 1...20 { try first.write(Array("\(n).5,\(n)\n".utf8)) }
        try await eventually("STATUS= with the link up and the device attached") {
            listener.messages.compactMap(statusText).contains { $0.hasPrefix("link up to ws://127.0.0.1:\(spy.port)/gateway/v1; 1 of") }
        }
        try await eventually("WATCHDOG=1 keeps coming") { listener.count("WATCHDOG=1") >= 4 }

        // Status, as JSON and as text.
        try await eventually("20 readings acknowledged") {
            let status = try await Self.status(binary, config: config)
            let readings = Self.device(status, "sensor-1").flatMap { ($0["counters"] as? [String: Any])?["readings"] as? Int }
            return readings == 20 && (status["spool"] as? [String: Any])?["depth"] as? Int == 0
        }
        let json = try await Self.status(binary, config: config)
        #expect(json["gateway"] as? String == "gw-test")
        #expect(json["ready"] as? Bool == true)
        #expect((json["watchdog"] as? [String: Any])?["healthy"] as? Bool == true)
        let link = try #require(json["link"] as? [String: Any])
        #expect(link["state"] as? String == "up")
        #expect(link["connections"] as? Int == 1)
        #expect(Self.device(json, "sensor-1")?["open"] as? Bool == true)
        let (code, text, _) = try await runBinary(binary, ["status", "--url", "http://127.0.0.1:\(metricsPort)"])
        #expect(code == 0)
        #expect(text.contains("gateway    gw-test (version "))
        #expect(text.contains("watchdog   healthy"))
        #expect(text.contains("link       up ws://127.0.0.1:\(spy.port)/gateway/v1"))
        #expect(text.contains("attached  streaming  readings 20,"))
        #expect(text.contains("spool      0 frames unacknowledged"))

        // SIGHUP: a port added to the config comes up; a new gateway id waits for a restart.
        let second = try PseudoTerminal()
        defer { second.close() }
        _ = try Self.gatewayConfig(
            in: directory, serverPort: spy.port, metricsPort: metricsPort, gateway: "gw-renamed",
            devices: [("sensor-1", first.slavePath), ("sensor-2", second.slavePath)]
        )
        let mark = listener.messages.count
        let hangup = ContinuousClock.now
        try await child.signal(SIGHUP)
        let reloading = try await listener.wait(for: "RELOADING=1", from: mark)
        #expect(reloading.message.contains("MONOTONIC_USEC="))
        try await listener.wait(for: "READY=1", from: reloading.index + 1)
        let reload = ContinuousClock.now - hangup
        let reloaded = try await Self.status(binary, config: config)
        #expect(Self.device(reloaded, "sensor-2") != nil, "the added port runs once READY=1 follows the reload")
        #expect(reloaded["gateway"] as? String == "gw-test")
        #expect(child.output.contains("gatewayId changed; that needs a restart"))
        try second.write(Array("7.5,7\n".utf8))

        // SIGTERM: the spool drains, the link closes with 1001, exit 0.
        for n in 21...70 { try first.write(Array("\(n).5,\(n)\n".utf8)) }
        try await eventually("70 readings in the spool") {
            let status = try await Self.status(binary, config: config)
            return Self.device(status, "sensor-1").flatMap { ($0["counters"] as? [String: Any])?["readings"] as? Int } == 70
        }
        let stop = try await child.signal(SIGTERM, wait: true)
        #expect(child.process.terminationStatus == 0)
        #expect(listener.count("STOPPING=1") == 1)
        #expect(spy.clientCloseCodes.last == 1001)
        let spool = try await runBinary(binary, ["spool", "status", "--config", config, "--json"])
        let spoolStatus = try JSONSerialization.jsonObject(with: Data(spool.output.utf8)) as? [String: Any]
        #expect((spoolStatus?["status"] as? [String: Any])?["depth"] as? Int == 0, "every frame acknowledged before the link closed")
        let stored = try await server.store.devices().first { $0.device == "sensor-1" }?.readingCount
        #expect(stored == 70)
        #expect(stop < .seconds(25), "well within TimeoutStopSec=30")
        print("TIMING gateway: start to READY=1 \(milliseconds(startup)) ms; SIGHUP to READY=1 \(milliseconds(reload)) ms; SIGTERM to exit \(milliseconds(stop)) ms")
        try await server.stop()
    }

    @Test func onTermWithASilentServerTheDrainGivesUpInTimeAndTheSpoolKeepsTheRest() async throws {
        guard let binary = BuiltProducts.path("serialbridge") else {
            Issue.record("the serialbridge executable is not built; run `swift build --build-tests` first")
            return
        }
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let proxy = try SilentProxy(upstream: server.port)
        defer { proxy.stop() }
        let directory = try TemporaryDirectory()
        let device = try PseudoTerminal()
        defer { device.close() }
        let config = try Self.gatewayConfig(
            in: directory, serverPort: proxy.port, metricsPort: freePort(), gateway: "gw-test", devices: [("sensor-1", device.slavePath)]
        )
        let listener = try NotifyListener(directory: directory)
        let child = try NotifiedChild(
            binary, ["run", "--config", config], environment: ["NOTIFY_SOCKET": listener.address], log: directory.file("gateway.log")
        )
        defer { if child.process.isRunning { kill(child.pid, SIGKILL) } }
        try await listener.wait(for: "READY=1")
        for n in 1...20 { try device.write(Array("\(n).5,\(n)\n".utf8)) }
        try await eventually("20 readings acknowledged") {
            let status = try await Self.status(binary, config: config)
            return (status["spool"] as? [String: Any])?["depth"] as? Int == 0
                && Self.device(status, "sensor-1").flatMap { ($0["counters"] as? [String: Any])?["readings"] as? Int } == 20
        }
        // The link goes silent (half-open): what is read now cannot be acknowledged.
        proxy.silence()
        for n in 21...50 { try device.write(Array("\(n).5,\(n)\n".utf8)) }
        try await eventually("30 readings waiting in the spool") {
            (try await Self.status(binary, config: config)["spool"] as? [String: Any])?["depth"] as? Int == 30
        }
        let stop = try await child.signal(SIGTERM, wait: true)
        #expect(child.process.terminationStatus == 0)
        #expect(listener.count("STOPPING=1") == 1)
        #expect(child.output.contains("readings not acknowledged within"))
        let spool = try await runBinary(binary, ["spool", "status", "--config", config, "--json"])
        let status = try JSONSerialization.jsonObject(with: Data(spool.output.utf8)) as? [String: Any]
        // The 30 readings and the session's `detached` event.
        #expect((status?["status"] as? [String: Any])?["depth"] as? Int == 31, "kept for the next start")
        #expect(stop < .seconds(25), "the drain (drainTimeoutMs, 10 s) ends well within TimeoutStopSec=30")
        print("TIMING gateway: SIGTERM to exit with a silent server and 30 frames unacknowledged \(milliseconds(stop)) ms")
        proxy.stop()
        try await server.stop()
    }

    @Test func theServerBinaryNotifiesReadyOnceListeningPingsAndStops() async throws {
        guard let binary = BuiltProducts.path("serialbridge-server") else {
            Issue.record("the serialbridge-server executable is not built; run `swift build --build-tests` first")
            return
        }
        let directory = try TemporaryDirectory()
        let tokens = directory.file("tokens")
        let added = try await runBinary(binary, ["tokens", "add", "gw-test", "--tokens", tokens])
        #expect(added.status == 0)
        let listener = try NotifyListener(directory: directory)
        let portFile = directory.file("port")
        let started = ContinuousClock.now
        let child = try NotifiedChild(
            binary, ["serve", "--port", "0", "--port-file", portFile, "--tokens", tokens, "--db", directory.file("db.sqlite")],
            environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"], log: directory.file("server.log")
        )
        defer { if child.process.isRunning { kill(child.pid, SIGKILL) } }
        let ready = try await listener.wait(for: "READY=1")
        let startup = ContinuousClock.now - started
        let port = try #require(Int((try String(contentsOfFile: portFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(statusText(ready.message) == "listening on http://127.0.0.1:\(port)/")
        try await eventually("WATCHDOG=1 keeps coming") { listener.count("WATCHDOG=1") >= 3 }
        // A SIGHUP never ends the server, with or without TLS.
        let mark = listener.messages.count
        try await child.signal(SIGHUP)
        let reloading = try await listener.wait(for: "RELOADING=1", from: mark)
        try await listener.wait(for: "READY=1", from: reloading.index + 1)
        #expect(child.process.isRunning)
        let stop = try await child.signal(SIGTERM, wait: true)
        #expect(child.process.terminationStatus == 0)
        #expect(listener.count("STOPPING=1") == 1)
        print("TIMING server: start to READY=1 \(milliseconds(startup)) ms; SIGTERM to exit \(milliseconds(stop)) ms")
    }

    @Test func statusSaysSoWhenNoGatewayRuns() async throws {
        guard let binary = BuiltProducts.path("serialbridge") else {
            Issue.record("the serialbridge executable is not built; run `swift build --build-tests` first")
            return
        }
        let port = freePort()
        let nobody = try await runBinary(binary, ["status", "--url", "http://127.0.0.1:\(port)"])
        #expect(nobody.status == 3)
        #expect(nobody.error.contains("no gateway answers at http://127.0.0.1:\(port)/status (Connection refused): is it running?"))
        let nobodyJSON = try await runBinary(binary, ["status", "--url", "http://127.0.0.1:\(port)", "--json"])
        #expect(nobodyJSON.status == 3)
        #expect(nobodyJSON.output.isEmpty)

        let directory = try TemporaryDirectory()
        try directory.write("off.json", """
        { "gatewayId": "gw", "server": { "url": "ws://127.0.0.1:1/gateway/v1", "tokenFile": "token" }, "metrics": { "listen": null } }
        """)
        let off = try await runBinary(binary, ["status", "--config", directory.file("off.json")])
        #expect(off.status == 2)
        #expect(off.error.contains("metrics.listen is off"))
    }
}
