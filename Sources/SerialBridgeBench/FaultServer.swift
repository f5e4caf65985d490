import Foundation
import SerialBridgeServer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `serialbridge-server serve` process with its own database and token file; it can be killed
/// and started again on the same port and database.
final class FaultServer: Sendable {
    /// The gateway id every scenario's gateway uses, and its token.
    static let gateway = "gw-fault"
    static let token = "fault-token-5f0c2a9e41d7b3c8a61e9d04b7f2c35a"

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
        // The server keeps only hashes: write the known token, then hash it in place as
        // `serialbridge-server tokens migrate` does.
        try "\(Self.gateway) \(Self.token)\n".write(toFile: workspace.file("tokens"), atomically: true, encoding: .utf8)
        _ = try GatewayTokenCommands.migrate(file: workspace.file("tokens"))
    }

    /// The port it listens on (after ``start()``).
    var port: Int { state.withLock { $0.port } }
    /// Its gateway endpoint.
    var url: String { "ws://127.0.0.1:\(port)/gateway/v1" }
    /// Its database.
    var ledger: ServerLedger { ServerLedger(path: workspace.file("server.sqlite"), gateway: Self.gateway) }
    /// Whether its process runs.
    var isRunning: Bool { state.withLock { $0.child }?.isRunning ?? false }
    /// Its process id while it runs (for CPU and memory figures).
    var pid: Int32? { state.withLock { $0.child }.flatMap { $0.isRunning ? $0.pid : nil } }

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
