/// The server SIGKILLed and started again, `restarts` times, while two devices stream: every line
/// is stored exactly once, every identity of the run is there once.
struct ServerRestartFault: FaultScenario {
    let name = "server-restart"
    let restarts: Int

    func run(in workspace: FaultWorkspace) async throws -> String {
        // A fixed port: the gateway must find the restarted server where the killed one was.
        let server = try FaultServer(workspace: workspace, heartbeatMs: 1_000, port: try freePort())
        try await server.start()
        let rig = try CountingRig(workspace: workspace, count: 2, rate: 200)
        let gateway = try FaultGateway(workspace: workspace, serverURL: server.url, ports: rig.ports)
        try await gateway.start()
        rig.start()
        try await waitFor("the first readings at the server", timeout: .seconds(60)) {
            try server.ledger.readingCount(device: "counter-0") > 0
        }

        var outages: [Double] = []
        var resent = 0.0
        for round in 1...restarts {
            // Some streaming, then a kill at an arbitrary point of it.
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_500)))
            let connections = gateway.metrics()?.sum("serialbridge_link_connections_total") ?? 0
            resent += MetricsScrape.fetch(port: server.port)?.sum("serialbridge_server_readings_duplicate_total") ?? 0
            let killed = ContinuousClock.now
            server.kill()
            try await server.start()
            try await waitFor("the gateway to reconnect after server kill \(round)", timeout: .seconds(60)) {
                guard gateway.isRunning else { throw FaultAbort("the gateway exited: \(gateway.ending ?? "")") }
                return (gateway.metrics()?.sum("serialbridge_link_connections_total") ?? 0) > connections && gateway.linkUp()
            }
            outages.append(seconds(ContinuousClock.now - killed))
        }
        guard gateway.isRunning else { throw FaultFailure("the gateway exited: \(gateway.ending ?? "")") }

        let outcome = try await rig.finish(server: server, gateway: gateway)
        resent += MetricsScrape.fetch(port: server.port)?.sum("serialbridge_server_readings_duplicate_total") ?? 0
        guard outcome.epochs == 1 else { throw FaultFailure("the gateway ran \(outcome.epochs) epochs; it was never restarted") }
        let mean = outages.reduce(0, +) / Double(outages.count)
        return "\(restarts) kills; \(outcome.totalWritten) lines of 2 devices stored once each, in order; "
            + "\(outcome.frames) identities 1…\(outcome.frames) once each; "
            + "kill to link up again: mean \(figure(mean)) s, max \(figure(outages.max() ?? 0)) s; "
            + "\(Int(resent)) resent readings ignored as duplicates"
    }
}
