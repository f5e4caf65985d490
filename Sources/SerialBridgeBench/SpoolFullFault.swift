import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The spool's disk full: the gateway's state directory on a small tmpfs, the server away, a device
/// streaming. The spool must drop its oldest frames to make room and count them, the gateway must
/// not crash and must keep reading; when the server comes, it gets the newest lines and the count.
struct SpoolFullFault: FaultScenario {
    let name = "spool-full"
    /// How long the device streams once the disk is full.
    let fullFor: Duration
    /// The tmpfs: 4 MiB. The spool's quota (16 MiB) is above it, so the disk fills first, and its
    /// segments (quota / 16 = 1 MiB) leave the spool older segments to drop.
    let diskBytes = 4 << 20

    func run(in workspace: FaultWorkspace) async throws -> String {
        guard geteuid() == 0 else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                throw FaultFailure("needs root to mount a tmpfs, and CI runs as root")
            }
            throw FaultSkipped("needs root to mount a tmpfs for the spool (run as root, or in CI)")
        }
        let state = workspace.file("state")
        try workspace.mountTmpfs(at: state, bytes: diskBytes)
        let serverPort = try freePort()
        let rig = try CountingRig(workspace: workspace, count: 1, rate: 4_000)
        let device = rig.devices[0]
        let gateway = try FaultGateway(
            workspace: workspace, serverURL: "ws://127.0.0.1:\(serverPort)/gateway/v1", ports: rig.ports,
            stateDirectory: state, spool: #""maxBytes": 16777216, "whenFull": "dropOldest""#
        )
        try await gateway.start()
        rig.start()
        let labels = ["device": device.device]
        var filledAt = 0.0
        try await waitFor("the spool to drop frames on the full disk", timeout: .seconds(120), every: .milliseconds(100)) {
            guard gateway.isRunning else { throw FaultAbort("the gateway died on the full disk: \(gateway.ending ?? "")") }
            guard let metrics = gateway.metrics(), metrics.value("serialbridge_spool_dropped_frames_total") ?? 0 > 0 else { return false }
            filledAt = metrics.value("serialbridge_device_readings_total", labels) ?? 0
            return true
        }
        try await Task.sleep(for: fullFor)
        guard gateway.isRunning else { throw FaultFailure("the gateway died on the full disk: \(gateway.ending ?? "")") }
        let readingsWhileFull = (gateway.metrics()?.value("serialbridge_device_readings_total", labels) ?? 0) - filledAt
        guard readingsWhileFull > 0 else { throw FaultFailure("no reading made in \(fullFor) with the disk full") }
        let written = await device.stop()

        // The server comes back: the gateway sends what the spool kept, newest lines included.
        let server = try FaultServer(workspace: workspace, heartbeatMs: 1_000, port: serverPort)
        try await server.start()
        try await waitFor("the newest line at the server and the spool empty", timeout: .seconds(180), every: .milliseconds(200)) {
            try server.ledger.newestLine(device: device.device) == written && gateway.metrics()?.value("serialbridge_spool_frames") == 0
        }
        guard gateway.isRunning else { throw FaultFailure("the gateway exited: \(gateway.ending ?? "")") }
        let dropped = Int(gateway.metrics()?.value("serialbridge_spool_dropped_frames_total") ?? 0)
        var reported: Int?
        try await waitFor("the dropped count reported to the server", timeout: .seconds(30)) {
            reported = try server.ledger.reportedDropped()
            return reported == dropped
        }

        // Oldest first: what is missing is the start of the run, not its end; everything missing is counted.
        let stored = try server.ledger.countedReadings(device: device.device)
        for (previous, next) in zip(stored, stored.dropFirst()) where next.number <= previous.number {
            throw FaultFailure("line \(next.number) stored after line \(previous.number)")
        }
        guard stored.allSatisfy({ $0.check == CountingDevice.check($0.number) }), let oldest = stored.first?.number else {
            throw FaultFailure("a stored reading is no line the device wrote")
        }
        let identities = try server.ledger.identities()
        guard identities.count == 1, let sequences = identities.values.first, let newest = sequences.last, let lowest = sequences.first else {
            throw FaultFailure("expected one epoch at the server, found \(identities.count)")
        }
        let missingLines = written - stored.count
        let missingIdentities = Int(newest) - sequences.count
        guard oldest > 1, lowest > 1 else { throw FaultFailure("the oldest frames were kept (first line stored: \(oldest)); something newer was dropped instead") }
        guard missingLines <= dropped, missingIdentities <= dropped else {
            throw FaultFailure("\(missingLines) lines and \(missingIdentities) identities lost, but only \(dropped) frames counted as dropped")
        }
        let holes = missingIdentities - Int(lowest - 1)
        return "\(diskBytes >> 20) MiB tmpfs full after \(Int(filledAt)) readings; \(dropped) frames dropped, counted and reported in hello "
            + "(identities 1…\(lowest - 1) gone oldest first, \(holes) later hole(s)); the gateway ran on and read \(Int(readingsWhileFull)) lines "
            + "while the disk was full; the newest \(stored.count) of \(written) lines (\(oldest)…\(written)) delivered in order once each"
    }
}
