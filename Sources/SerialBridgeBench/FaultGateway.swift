import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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

    /// Writes the config. `spool` is the body of the config's `spool` object, if any; `members`
    /// are further top-level members (`"encoding": "binary"`), `logLevel` the gateway's.
    init(
        workspace: FaultWorkspace, serverURL: String, ports: [Port], stateDirectory: String? = nil,
        spool: String? = nil, connectTimeoutMs: Int = 3_000, members: [String] = [], logLevel: String = "info"
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
          "metrics": { "listen": "127.0.0.1:\(metricsPort)" },\(spool.map { "\n  \"spool\": { \($0) }," } ?? "")\(members.map { "\n  \($0)," }.joined())
          "logLevel": "\(logLevel)"
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
