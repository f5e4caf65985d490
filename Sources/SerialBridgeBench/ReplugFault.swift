import Foundation

/// A device unplugged and plugged in again `cycles` times: the `serialbridge simulate` process is
/// stopped (its pty closes, its link goes) and started again on the same `--link` path. The gateway
/// must re-attach every time: the port open again and readings flowing (metrics), an `attached`
/// event per plug and a `detached` event per unplug at the server.
struct ReplugFault: FaultScenario {
    let name = "replug"
    let cycles: Int
    let device = "replug"

    func run(in workspace: FaultWorkspace) async throws -> String {
        let server = try FaultServer(workspace: workspace, heartbeatMs: 1_000)
        try await server.start()
        try FileManager.default.createDirectory(atPath: workspace.file("dev"), withIntermediateDirectories: true)
        let link = workspace.file("dev/replug")
        let profile = workspace.binaries.profiles + "/generic-csv-lines.json"
        func plugIn() throws(FaultFailure) -> FaultChild {
            try workspace.spawn("simulator", workspace.binaries.gateway, ["simulate", profile, "--link", link, "--rate", "50"])
        }
        var simulator = try plugIn()
        try await waitFor("the simulator's link", timeout: .seconds(30)) { FileManager.default.fileExists(atPath: link) }
        let gateway = try FaultGateway(
            workspace: workspace, serverURL: server.url, ports: [.init(device: device, path: link, profile: "generic-csv-lines")]
        )
        try await gateway.start()
        let labels = ["device": device]
        func readings() -> Double { gateway.metrics()?.value("serialbridge_device_readings_total", labels) ?? 0 }
        func portOpen() -> Bool { gateway.metrics()?.value("serialbridge_device_port_open", labels) == 1 }
        try await waitFor("the first readings", timeout: .seconds(60)) { portOpen() && readings() > 0 }

        var reattach: [Double] = []
        for cycle in 1...cycles {
            guard await simulator.stop(SIGTERM) else { throw FaultFailure("cycle \(cycle): the simulator ignored SIGTERM") }
            try await waitFor("the gateway to see the device go (cycle \(cycle))", timeout: .seconds(30), every: .milliseconds(10)) { !portOpen() }
            let before = readings()
            simulator = try plugIn()
            let plugged = ContinuousClock.now
            try await waitFor("the device re-attached and reading (cycle \(cycle))", timeout: .seconds(30), every: .milliseconds(10)) {
                portOpen() && readings() > before
            }
            reattach.append(seconds(ContinuousClock.now - plugged))
        }
        let reopens = gateway.metrics()?.value("serialbridge_device_reopens_total", labels) ?? 0
        guard Int(reopens) == cycles else { throw FaultFailure("serialbridge_device_reopens_total is \(Int(reopens)) after \(cycles) unplugs") }
        var events: [String: Int] = [:]
        try await waitFor("an attached event per plug and a detached event per unplug at the server", timeout: .seconds(60)) {
            events = try server.ledger.eventCounts(device: device)
            return events["attached", default: 0] >= cycles + 1 && events["detached", default: 0] >= cycles
        }
        guard events["attached", default: 0] == cycles + 1, events["detached", default: 0] == cycles else {
            throw FaultFailure("the server holds \(events["attached", default: 0]) attached and \(events["detached", default: 0]) detached events for \(cycles) replugs")
        }
        guard gateway.isRunning else { throw FaultFailure("the gateway exited: \(gateway.ending ?? "")") }
        let sorted = reattach.sorted()
        let mean = reattach.reduce(0, +) / Double(reattach.count)
        let stored = try server.ledger.readingCount(device: device)
        return "\(cycles) unplug/replug cycles, re-attached every time: plug to first new reading mean \(figure(mean, decimals: 2)) s, "
            + "median \(figure(sorted[sorted.count / 2], decimals: 2)) s, max \(figure(sorted.last ?? 0, decimals: 2)) s; "
            + "\(Int(reopens)) reopens counted; server events: \(cycles + 1) attached, \(cycles) detached, "
            + "\(events["error", default: 0]) open errors while unplugged; \(stored) readings stored"
    }
}
