/// The gateway SIGKILLed in the middle of a burst and started again while the burst goes on:
/// every frame up to the committed high-water mark (and everything else the killed run had
/// appended) arrives exactly once, and every line written after the restart arrives.
///
/// The device bursts at 5,000 lines/s and the server paces the gateway at 1,000 readings/s (after
/// its 10-second allowance), so that thousands of committed frames are still unacknowledged at
/// the kill and must be resent by the next run, none twice.
struct GatewayKillFault: FaultScenario {
    let name = "gateway-kill"
    /// Lines in the burst, and how many must be committed before the kill.
    let lines: Int
    let killAfter: Int

    func run(in workspace: FaultWorkspace) async throws -> String {
        let server = try FaultServer(workspace: workspace, heartbeatMs: 1_000, options: ["--gateway-rate-limit", "1000"])
        try await server.start()
        let rig = try CountingRig(workspace: workspace, count: 1, rate: 5_000, limit: lines)
        let device = rig.devices[0]
        let gateway = try FaultGateway(workspace: workspace, serverURL: server.url, ports: rig.ports)
        try await gateway.start()
        rig.start()

        let backlog = try await backlogOnceCommitted(gateway: gateway, device: device)
        // The mark read just before the kill (the status file is at most ~100 ms old: the real mark
        // can only be higher).
        let mark = try await gateway.spoolMarks().committed
        gateway.kill()
        let killedAtLine = device.written
        guard !device.finished else { throw FaultFailure("the burst was over before the kill (\(lines) lines written)") }
        // With no gateway running, spool status scans the files: what the killed run had appended.
        let appended = try await gateway.spoolMarks().appended
        guard appended.epoch == mark.epoch, appended.sequence >= mark.sequence else {
            throw FaultFailure("the spool holds up to \(appended.epoch)/\(appended.sequence) after the kill, below the committed mark \(mark.epoch)/\(mark.sequence)")
        }
        let writtenWhileDown = device.written
        try await gateway.start()
        try await waitFor("the burst to end (\(lines) lines)", timeout: .seconds(300), every: .milliseconds(100)) { device.finished }

        let outcome = try await rig.finish(server: server, gateway: gateway, killed: true)
        let byEpoch = try server.ledger.identities()
        guard let first = byEpoch[mark.epoch] else { throw FaultFailure("nothing of the killed run's epoch \(mark.epoch) at the server") }
        // Complete (DeliveryCheck.identities) and exactly what the killed run had appended.
        guard first.count == Int(appended.sequence) else {
            throw FaultFailure("the server holds \(first.count) frames of epoch \(mark.epoch); the killed run had appended \(appended.sequence)")
        }
        guard outcome.epochs == 2 else { throw FaultFailure("\(outcome.epochs) epochs at the server, expected the killed run's and the restart's") }
        let result = outcome.lines[0]
        return "killed at line \(killedAtLine) of \(lines) with committed mark \(mark.epoch)/\(mark.sequence) and \(backlog) frames unacknowledged; "
            + "epoch \(mark.epoch): frames 1…\(appended.sequence) (all it had appended) once each; "
            + "lines \(killedAtLine + 1)…\(writtenWhileDown) written while it was down waited in the pty, \(lines - writtenWhileDown) more came after the restart; "
            + linesFigure(result)
    }

    private func linesFigure(_ result: DeliveryCheck.Lines) -> String {
        guard result.lostAtKill > 0 || result.torn > 0 else { return "all \(lines) lines stored once each, in order" }
        return "\(result.delivered) of \(lines) lines stored once each, in order; \(result.lostAtKill) read by the killed process "
            + "before it could append them (lost with it); \(result.torn) line(s) cut in two by the kill"
    }

    /// Waits until `killAfter` frames are committed while the burst goes on; returns the spool's
    /// depth then (frames not yet acknowledged).
    private func backlogOnceCommitted(gateway: FaultGateway, device: CountingDevice) async throws(FaultFailure) -> Int {
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            guard !device.finished else { throw FaultFailure("the burst ended before \(killAfter) frames were committed") }
            guard ContinuousClock.now < deadline else { throw FaultFailure("timed out after 120 s waiting for \(killAfter) frames committed") }
            if let committed = try? await gateway.spoolMarks().committed, committed.sequence >= killAfter {
                return Int(gateway.metrics()?.value("serialbridge_spool_frames") ?? 0)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
