import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Thrown by a ``waitFor(_:timeout:every:_:)`` condition when waiting longer is pointless (the
/// process that should get there has exited): the wait fails at once with this reason.
struct FaultAbort: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Polls `condition` every `every` until it holds; a timeout is a failure naming `what`. Errors
/// thrown by the condition count as "not yet" (a database or endpoint not up yet), except
/// ``FaultAbort``.
func waitFor(
    _ what: String, timeout: Duration, every: Duration = .milliseconds(50), _ condition: () throws -> Bool
) async throws(FaultFailure) {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            if try condition() { return }
        } catch let abort as FaultAbort {
            throw FaultFailure("\(abort.reason) (while waiting for \(what))")
        } catch {}
        guard ContinuousClock.now < deadline else { throw FaultFailure("timed out after \(timeout) waiting for \(what)") }
        try? await Task.sleep(for: every)
    }
}

/// Seconds of a duration, as a Double.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// A loopback port free right now (for a server that must come back on the same port).
func freePort() throws(FaultFailure) -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw FaultFailure("no free loopback port: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A `serialbridge-server serve` process with its own database and token file; it can be killed
/// and started again on the same port and database.
final class FaultServer: Sendable {
    /// The gateway id every scenario's gateway uses, and its token.
    static let gateway = "gw-fault"
    static let token = "fault-token-5f0c2a9e41d7b3c8"

    let workspace: FaultWorkspace
    /// The heartbeat interval the server gives gateways in `welcome`.
    let heartbeatMs: Int
    private let requestedPort: Int
    private let options: [String]
    private let state = Mutex<(child: FaultChild?, port: Int, starts: Int)>((nil, 0, 0))

    /// `port` 0: a free port at each start (use a fixed one for a server that restarts); `options`
    /// are further `serve` options.
    init(workspace: FaultWorkspace, heartbeatMs: Int, port: Int = 0, options: [String] = []) throws {
        self.workspace = workspace
        self.heartbeatMs = heartbeatMs
        requestedPort = port
        self.options = options
        try "\(Self.gateway) \(Self.token)\n".write(toFile: workspace.file("tokens"), atomically: true, encoding: .utf8)
    }

    /// The port it listens on (after ``start()``).
    var port: Int { state.withLock { $0.port } }
    /// Its gateway endpoint.
    var url: String { "ws://127.0.0.1:\(port)/gateway/v1" }
    /// Its database.
    var ledger: ServerLedger { ServerLedger(path: workspace.file("server.sqlite"), gateway: Self.gateway) }
    /// Whether its process runs.
    var isRunning: Bool { state.withLock { $0.child }?.isRunning ?? false }

    /// Starts the process and waits until it listens (its port file).
    func start() async throws(FaultFailure) {
        let portFile = workspace.file("server.port")
        unlink(portFile)
        let child = try workspace.spawn("server", workspace.binaries.server, [
            "serve", "--host", "127.0.0.1", "--port", String(requestedPort), "--port-file", portFile,
            "--db", workspace.file("server.sqlite"), "--tokens", workspace.file("tokens"),
            "--heartbeat-ms", String(heartbeatMs), "--log-level", "warning",
        ] + options)
        state.withLock {
            $0.child = child
            $0.starts += 1
        }
        var bound = 0
        try await waitFor("the server to listen (\(workspace.file("server.log")))", timeout: .seconds(60)) {
            guard child.isRunning else { throw FaultAbort("the server exited: \(child.ending ?? "")") }
            bound = Int((try? String(contentsOfFile: portFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            return bound > 0
        }
        state.withLock { $0.port = bound }
    }

    /// SIGKILL: no graceful close, no flush beyond what SQLite already committed.
    func kill() {
        state.withLock { $0.child }?.killNow()
    }

    /// SIGTERM, then SIGKILL after 10 s.
    func stop() async {
        await state.withLock { $0.child }?.stop()
    }
}

/// A `serialbridge run` process: config written by the bench (short backoffs, its own metrics port,
/// discovery off), started, scraped, killed and started again on the same state directory.
final class FaultGateway: Sendable {
    /// A port binding in the config.
    struct Port: Sendable {
        let device: String
        let path: String
        let profile: String
    }

    let workspace: FaultWorkspace
    /// The config file.
    let config: String
    /// Where `GET /metrics` is served.
    let metricsPort: Int
    /// The state directory (epoch and spool).
    let stateDirectory: String
    private let child = Mutex<FaultChild?>(nil)

    /// Writes the config. `spool` is the body of the config's `spool` object, if any.
    init(
        workspace: FaultWorkspace, serverURL: String, ports: [Port], stateDirectory: String? = nil,
        spool: String? = nil, connectTimeoutMs: Int = 3_000
    ) throws {
        self.workspace = workspace
        metricsPort = try freePort()
        self.stateDirectory = stateDirectory ?? workspace.file("state")
        config = workspace.file("gateway.json")
        try FaultServer.token.write(toFile: workspace.file("token"), atomically: true, encoding: .utf8)
        let bindings = ports.map { #"{ "device": "\#($0.device)", "path": "\#($0.path)", "profile": "\#($0.profile)" }"# }
        try """
        {
          "gatewayId": "\(FaultServer.gateway)",
          "server": { "url": "\(serverURL)", "tokenFile": "token" },
          "stateDirectory": "\(self.stateDirectory)",
          "profileFolders": ["\(workspace.binaries.profiles)"],
          "ports": [\(bindings.joined(separator: ", "))],
          "discovery": false,
          "reconnect": { "initialDelayMs": 100, "maxDelayMs": 1000 },
          "uplink": { "connectTimeoutMs": \(connectTimeoutMs) },
          "drainTimeoutMs": 2000,
          "metrics": { "listen": "127.0.0.1:\(metricsPort)" },\(spool.map { "\n  \"spool\": { \($0) }," } ?? "")
          "logLevel": "info"
        }
        """.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// Whether its process runs.
    var isRunning: Bool { child.withLock { $0 }?.isRunning ?? false }
    /// How its process ended, if it has.
    var ending: String? { child.withLock { $0 }?.ending }

    /// Its process id while it runs.
    func pid() throws(FaultFailure) -> Int32 {
        guard let process = child.withLock({ $0 }), process.isRunning else { throw FaultFailure("the gateway is not running") }
        return process.pid
    }

    /// Starts the process and waits until its metrics endpoint answers.
    func start() async throws(FaultFailure) {
        let process = try workspace.spawn("gateway", workspace.binaries.gateway, ["run", "--config", config])
        child.withLock { $0 = process }
        try await waitFor("the gateway's metrics endpoint (\(workspace.file("gateway.log")))", timeout: .seconds(60)) {
            guard process.isRunning else { throw FaultAbort("the gateway exited: \(process.ending ?? "")") }
            return metrics() != nil
        }
    }

    /// SIGKILL.
    func kill() {
        child.withLock { $0 }?.killNow()
    }

    /// SIGTERM (the graceful stop), then SIGKILL after 10 s.
    func stop() async {
        await child.withLock { $0 }?.stop()
    }

    /// One scrape of its metrics (nil: no answer within `timeout` seconds).
    func metrics(timeout: Int = 2) -> MetricsScrape? {
        MetricsScrape.fetch(port: metricsPort, timeout: timeout)
    }

    /// Whether the link is up right now.
    func linkUp() -> Bool {
        metrics()?.value("serialbridge_link_state", ["state": "up"]) == 1
    }

    /// The spool's committed high-water mark and newest appended identity, from
    /// `serialbridge spool status --json` (the running gateway's status file, or a scan of the files
    /// when none runs).
    func spoolMarks() async throws(FaultFailure) -> (committed: (epoch: Int64, sequence: Int64), appended: (epoch: Int64, sequence: Int64)) {
        let output = workspace.file("spool-status.json")
        unlink(output)
        let process = try FaultChild(
            name: "spool status", executable: workspace.binaries.gateway,
            arguments: ["spool", "status", "--config", config, "--json"], log: output
        )
        guard await process.exited(within: .seconds(30)) else {
            process.killNow()
            throw FaultFailure("spool status did not finish in 30 s")
        }
        func mark(_ status: [String: Any], _ key: String) -> (epoch: Int64, sequence: Int64)? {
            guard let mark = status[key] as? [String: Any], let epoch = mark["epoch"] as? Int, let sequence = mark["seq"] as? Int else { return nil }
            return (Int64(epoch), Int64(sequence))
        }
        let data = (try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data()
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let status = object["status"] as? [String: Any],
              let committed = mark(status, "committed") else {
            throw FaultFailure("spool status --json printed no committed mark: \(String(decoding: data, as: UTF8.self))")
        }
        return (committed, mark(status, "lastAppended") ?? committed)
    }
}
