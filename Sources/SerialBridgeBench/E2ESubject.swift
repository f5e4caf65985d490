import Foundation
import SerialBridgeServer

/// What the end-to-end benchmark measures between the ptys and the server: our gateway, or the
/// Python baseline a user would write without it.
enum E2ESubject: String, Sendable, Codable, CaseIterable {
    case gateway
    case baseline

    /// The gateway id it connects as.
    var gatewayID: String {
        switch self {
        case .gateway: FaultServer.gateway
        case .baseline: "gw-baseline"
        }
    }
}

/// A subject started against a server and a feeder's ptys.
struct RunningSubject: Sendable {
    let subject: E2ESubject
    let pid: Int32
    /// Whether its process still runs.
    let alive: @Sendable () -> Bool
    /// Readings it has made from the lines so far, when it reports them (the gateway's device
    /// counters); nil for the baseline, whose readings are counted at the server.
    let produced: @Sendable () -> Int?

    /// Starts `subject` in `workspace`. The server must not run yet: the baseline's token is added
    /// to its token file first (as `serialbridge-server tokens add` does).
    static func prepare(_ subject: E2ESubject, workspace: FaultWorkspace) throws {
        guard subject == .baseline else { return }
        let token = try GatewayTokenCommands.add(gateway: subject.gatewayID, file: workspace.file("tokens")).token
        try token.write(toFile: workspace.file("baseline-token"), atomically: true, encoding: .utf8)
    }

    /// Starts the subject and waits until it runs (the gateway: its metrics answer).
    static func start(
        _ subject: E2ESubject, workspace: FaultWorkspace, server: FaultServer, feeder: LineFeeder, options: E2EOptions
    ) async throws -> RunningSubject {
        switch subject {
        case .gateway:
            let gateway = try FaultGateway(
                workspace: workspace, serverURL: server.url, ports: feeder.ports, members: options.gatewayMembers, logLevel: "warning"
            )
            try await gateway.start()
            let pid = try gateway.pid()
            return RunningSubject(subject: subject, pid: pid, alive: { gateway.isRunning }) {
                gateway.metrics().map { Int($0.sum("serialbridge_device_readings_total")) }
            }
        case .baseline:
            let ports = zip(feeder.devices, feeder.links).map { "\($0)=\($1)" }
            let child = try workspace.spawn("baseline", options.python, [
                options.baselineScript, "--server", server.url, "--gateway", subject.gatewayID,
                "--token-file", workspace.file("baseline-token"),
            ] + ports)
            return RunningSubject(subject: subject, pid: child.pid, alive: { child.isRunning }) { nil }
        }
    }
}
