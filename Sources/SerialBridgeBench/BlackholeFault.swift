import Foundation

/// The link black-holed by a proxy that stops forwarding without closing, `rounds` times, while a
/// device streams: the gateway declares the link dead within 3 heartbeat intervals of the first
/// heartbeat that went unanswered (its `uplink.missedHeartbeats`, default 3), redials, is back once
/// the path returns, and nothing is lost.
///
/// Measured from the start of the outage the bound is one interval more: the first heartbeat sent
/// into the hole goes out at the next tick, up to one interval later. Both figures are printed.
struct BlackholeFault: FaultScenario {
    let name = "blackhole"
    let rounds: Int
    /// The server's `--heartbeat-ms`.
    let heartbeatMs = 1_000

    func run(in workspace: FaultWorkspace) async throws -> String {
        let server = try FaultServer(workspace: workspace, heartbeatMs: heartbeatMs)
        try await server.start()
        let proxy = try BlackholeProxy(upstream: server.port)
        workspace.onCleanup { proxy.stop() }
        let rig = try CountingRig(workspace: workspace, count: 1, rate: 100)
        let gateway = try FaultGateway(
            workspace: workspace, serverURL: "ws://127.0.0.1:\(proxy.port)/gateway/v1", ports: rig.ports, connectTimeoutMs: 2_000
        )
        try await gateway.start()
        rig.start()
        try await waitFor("the first readings at the server", timeout: .seconds(60)) {
            try server.ledger.readingCount(device: "counter-0") > 0
        }

        let interval = Double(heartbeatMs) / 1_000
        // A scrape sees the dead link up to one poll late, and the gateway's clock ticks are not
        // exactly one interval apart under load: a quarter of an interval of slack.
        let slack = interval / 4
        var fromFirstMiss: [Double] = []
        var fromOutage: [Double] = []
        var recoveries: [Double] = []
        for round in 1...rounds {
            try await waitFor("the link up before blackhole \(round)", timeout: .seconds(60)) { gateway.linkUp() }
            try await Task.sleep(for: .seconds(1))
            let before = gateway.metrics()?.sum("serialbridge_link_reconnects_total", ["cause": "heartbeat-timeout"]) ?? 0
            proxy.blackhole()
            let outage = ContinuousClock.now
            var secondMiss: ContinuousClock.Instant?
            var detected: ContinuousClock.Instant?
            while detected == nil, ContinuousClock.now - outage < .seconds(interval * 30) {
                if let metrics = gateway.metrics() {
                    // The gauge counts the pings unanswered before the one just sent: it reaches 1
                    // at the second tick into the hole, one interval after the first unanswered ping.
                    if secondMiss == nil, (metrics.value("serialbridge_link_missed_heartbeats") ?? 0) >= 1 { secondMiss = .now }
                    if metrics.sum("serialbridge_link_reconnects_total", ["cause": "heartbeat-timeout"]) > before { detected = .now }
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            guard let detected else {
                throw FaultFailure("round \(round): the link was not declared dead within 30 heartbeat intervals of the blackhole")
            }
            guard let secondMiss else {
                throw FaultFailure("round \(round): the link was declared dead without serialbridge_link_missed_heartbeats ever reaching 1")
            }
            let sinceFirstMiss = seconds(detected - secondMiss) + interval
            fromFirstMiss.append(sinceFirstMiss)
            fromOutage.append(seconds(detected - outage))
            guard sinceFirstMiss <= 3 * interval + slack else {
                throw FaultFailure("round \(round): declared dead \(figure(sinceFirstMiss, decimals: 2)) s after the first unanswered heartbeat (3 intervals: \(figure(3 * interval, decimals: 2)) s)")
            }
            // The gateway redials into the hole meanwhile (its connect deadline gives up on those).
            try await Task.sleep(for: .seconds(1))
            let connections = gateway.metrics()?.sum("serialbridge_link_connections_total") ?? 0
            proxy.restore()
            let restored = ContinuousClock.now
            try await waitFor("the link back after blackhole \(round)", timeout: .seconds(30), every: .milliseconds(20)) {
                (gateway.metrics()?.sum("serialbridge_link_connections_total") ?? 0) > connections && gateway.linkUp()
            }
            recoveries.append(seconds(ContinuousClock.now - restored))
        }
        let logged = ((try? String(contentsOfFile: workspace.file("gateway.log"), encoding: .utf8)) ?? "")
            .components(separatedBy: "link dead:").count - 1
        guard logged >= rounds else {
            throw FaultFailure("the gateway logged \(logged) \"link dead\" lines for \(rounds) blackholes")
        }

        let outcome = try await rig.finish(server: server, gateway: gateway)
        func range(_ values: [Double], _ unit: Double = 1) -> String {
            let low = figure((values.min() ?? 0) / unit, decimals: 2)
            let high = figure((values.max() ?? 0) / unit, decimals: 2)
            return low == high ? low : "\(low)–\(high)"
        }
        return "\(rounds) blackhole\(rounds == 1 ? "" : "s"), heartbeat \(heartbeatMs) ms: declared dead \(range(fromFirstMiss)) s "
            + "(\(range(fromFirstMiss, interval)) intervals) after the first unanswered heartbeat, "
            + "\(range(fromOutage)) s (\(range(fromOutage, interval)) intervals) after the outage began; "
            + "link back \(range(recoveries)) s after the path returned; \(outcome.totalWritten) lines stored once each, in order"
    }
}
