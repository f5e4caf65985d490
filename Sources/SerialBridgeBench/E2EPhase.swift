import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Settings shared by every phase of an end-to-end run.
struct E2EOptions: Sendable {
    /// The Python interpreter and the baseline program.
    let python: String
    let baselineScript: String
    /// Extra top-level members of the gateway's config.
    let gatewayMembers: [String]
    /// Extra options of `serialbridge-server serve`.
    let serverOptions: [String]
    /// Time after the first reading reached the server before measuring, and the measured window.
    let warmup: Duration
    let window: Duration
    /// Keep each phase's folder (logs, configs, databases).
    let keepFiles: Bool
}

/// One measured configuration: devices, how fast the feeder writes, whether latency is recorded.
struct E2EPhase: Sendable {
    let name: String
    let devices: Int
    let pace: LineFeeder.Pace
    let measuresLatency: Bool

    /// Offered lines/s (nil: flat out).
    var offered: Double? {
        if case .paced(let total) = pace { return total }
        return nil
    }

    /// Starts a server, the feeder's ptys and `subject`, lets it warm up, measures one window, and
    /// stops everything.
    func run(_ subject: E2ESubject, binaries: FaultBinaries, root: String, options: E2EOptions) async throws -> E2EResult {
        let workspace = try FaultWorkspace(scenario: "\(name)-\(subject.rawValue)", root: root, binaries: binaries)
        defer { workspace.cleanup(keepFiles: options.keepFiles) }
        // The per-gateway rate limit (5,000/s by default) would pace the subject, not measure it.
        let server = try FaultServer(workspace: workspace, heartbeatMs: 10_000, options: ["--gateway-rate-limit", "0"] + options.serverOptions)
        try RunningSubject.prepare(subject, workspace: workspace)
        try await server.start()
        let feeder = try LineFeeder(workspace: workspace, count: devices, pace: pace)
        let live = LiveLatency(gateway: subject.gatewayID, log: feeder.log)
        let port = server.port
        defer { live.stop() }
        if measuresLatency {
            live.start(port: port)
            try await waitFor("the server's /live feed", timeout: .seconds(30)) { live.connected }
        }
        let running = try await RunningSubject.start(subject, workspace: workspace, server: server, feeder: feeder, options: options)
        feeder.start()
        func stored() -> Int? {
            MetricsScrape.fetch(port: port).flatMap { $0.value("serialbridge_server_readings_stored_total") }.map { Int($0) }
        }
        try await waitFor("\(subject.rawValue)'s first readings at the server (\(workspace.file("*.log")))", timeout: .seconds(60)) {
            guard running.alive(), server.isRunning else { throw FaultAbort("the \(subject.rawValue) or the server exited") }
            return (stored() ?? 0) > 0
        }
        try await Task.sleep(for: options.warmup)

        guard let serverPID = server.pid else { throw FaultFailure("the server exited during the warm-up") }
        let start = Sample(subject: running, server: serverPID, stored: stored())
        live.open(at: start.instant)
        var peakKiB = ProcessStats.residentKiB(pid: running.pid)
        let end = start.instant + UInt64(seconds(options.window) * 1e9)
        while monotonicNanoseconds() < end {
            try await Task.sleep(for: .milliseconds(250))
            peakKiB = max(peakKiB, ProcessStats.residentKiB(pid: running.pid))
        }
        let finish = Sample(subject: running, server: serverPID, stored: stored())
        live.close(at: finish.instant)
        _ = await feeder.stop()
        guard running.alive() else { throw FaultFailure("the \(subject.rawValue) exited during the run:\n\(workspace.logTails())") }
        var latency: E2EResult.Latency?
        if measuresLatency {
            // Lines written inside the window may still be on their way.
            try? await waitFor("the window's last lines on /live", timeout: .seconds(10), every: .milliseconds(100)) {
                let summary = live.summary()
                return summary.observed >= summary.written
            }
            let summary = live.summary()
            latency = E2EResult.Latency(
                written: summary.written, observed: summary.observed,
                p50Us: summary.p50, p99Us: summary.p99, p999Us: summary.p999, maxUs: summary.max
            )
        }
        return E2EResult(
            phase: name, subject: subject, devices: devices, offeredPerSecond: offered, start: start, finish: finish,
            peakRSSKiB: peakKiB, latency: latency
        )
    }
}

/// Counters read at one end of the measured window.
struct Sample: Sendable {
    let instant: UInt64
    let subjectCPU: UInt64
    let serverCPU: UInt64
    let benchCPU: UInt64
    let stored: Int?
    let produced: Int?

    init(subject: RunningSubject, server: Int32, stored: Int?) {
        instant = monotonicNanoseconds()
        subjectCPU = ProcessStats.cpuNanoseconds(pid: subject.pid)
        serverCPU = ProcessStats.cpuNanoseconds(pid: server)
        benchCPU = cpuTime()
        self.stored = stored
        produced = subject.produced()
    }
}
