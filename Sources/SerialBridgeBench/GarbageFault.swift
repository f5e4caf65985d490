import Foundation
import SerialBridgeProfiles

/// Garbage at full speed on every serial line of a gateway (four lines, four framings: CSV lines,
/// SDS011's fixed frames, PMS5003's length field, NMEA sentences; see ``GarbageDevice``) for
/// `duration`: every line's error counters rise, the gateway stays up, and its resident memory
/// grows by less than 5 MB between `baselineAt` and the end.
struct GarbageFault: FaultScenario {
    let name = "garbage"
    let duration: Duration
    let baselineAt: Duration
    let profiles = ["generic-csv-lines", "nova-sds011", "plantower-pms5003", "nmea-gps"]
    static let errorMetrics = [
        "serialbridge_device_decode_errors_total", "serialbridge_device_checksum_errors_total",
        "serialbridge_device_framing_errors_total", "serialbridge_device_resyncs_total",
    ]

    func run(in workspace: FaultWorkspace) async throws -> String {
        let server = try FaultServer(workspace: workspace, heartbeatMs: 1_000)
        try await server.start()
        try FileManager.default.createDirectory(atPath: workspace.file("dev"), withIntermediateDirectories: true)
        let devices = try profiles.enumerated().map { index, name in
            let profile = try ProfileLoader.load(file: workspace.binaries.profiles + "/\(name).json")
            let device = try GarbageDevice(device: "garbage-\(name)", link: workspace.file("dev/garbage-\(index)"), profile: profile, seed: UInt64(index + 1))
            workspace.onCleanup { device.close() }
            return device
        }
        let gateway = try FaultGateway(
            workspace: workspace, serverURL: server.url,
            ports: zip(devices, profiles).map { FaultGateway.Port(device: $0.device, path: $0.link, profile: $1) }
        )
        try await gateway.start()
        try await waitFor("every port open and the link up", timeout: .seconds(60)) {
            guard let metrics = gateway.metrics(), metrics.value("serialbridge_link_state", ["state": "up"]) == 1 else { return false }
            return devices.allSatisfy { metrics.value("serialbridge_device_port_open", ["device": $0.device]) == 1 }
        }
        let pid = try gateway.pid()

        for device in devices { device.start() }
        let start = ContinuousClock.now
        try await Task.sleep(until: start + baselineAt)
        let baseline = try snapshot(gateway, devices, pid: pid)
        try await Task.sleep(until: start + duration)
        let end = try snapshot(gateway, devices, pid: pid)
        let window = seconds(duration - baselineAt)
        for device in devices { device.close() }

        guard gateway.isRunning else { throw FaultFailure("the gateway died: \(gateway.ending ?? "")") }
        for device in devices {
            let before = baseline.errors[device.device] ?? 0
            let after = end.errors[device.device] ?? 0
            guard before > 0, after > before else {
                throw FaultFailure("\(device.device): error counters \(Int(before)) at \(baselineAt), \(Int(after)) at \(duration): not rising")
            }
        }
        let growth = (end.residentKiB - baseline.residentKiB) * 1024
        guard growth < 5_000_000 else {
            throw FaultFailure("the gateway's RSS grew by \(figure(Double(growth) / 1e6)) MB between \(baselineAt) and \(duration) (\(baseline.residentKiB) KiB → \(end.residentKiB) KiB)")
        }
        let bytes = end.bytes - baseline.bytes
        let cpu = Double(end.cpuNanoseconds - baseline.cpuNanoseconds) / 1e9 / window * 100
        let errors = devices.map { device in
            "\(device.device.dropFirst("garbage-".count)) +\(Int((end.errors[device.device] ?? 0) - (baseline.errors[device.device] ?? 0)))"
        }.joined(separator: ", ")
        return "4 lines of garbage (random runs and damaged frames) for \(Int(seconds(duration))) s: \(figure(bytes / 1e6)) MB read in the last \(Int(window)) s "
            + "(\(figure(bytes / 1e6 / window)) MB/s, gateway at \(Int(cpu)) % of a core); errors rose on every line (\(errors)); "
            + "gateway RSS \(figure(Double(baseline.residentKiB) / 1024)) MiB at \(Int(seconds(baselineAt))) s, "
            + "\(figure(Double(end.residentKiB) / 1024)) MiB at \(Int(seconds(duration))) s (\(growth >= 0 ? "+" : "")\(figure(Double(growth) / 1e6, decimals: 2)) MB); "
            + "metrics scrapes took \(figure(baseline.scrapeSeconds, decimals: 2)) s and \(figure(end.scrapeSeconds, decimals: 2)) s; "
            + "link endings meanwhile: \(endings(from: baseline, to: end))"
    }

    /// `none`, or `2 (heartbeat-timeout 1, closed-by-server 1)`.
    private func endings(from baseline: Snapshot, to end: Snapshot) -> String {
        let causes = end.linkEndings.compactMap { cause, count -> (String, Int)? in
            let grown = Int(count - (baseline.linkEndings[cause] ?? 0))
            return grown > 0 ? (cause, grown) : nil
        }.sorted { $0.0 < $1.0 }
        guard !causes.isEmpty else { return "none" }
        return "\(causes.reduce(0) { $0 + $1.1 }) (\(causes.map { "\($0.0) \($0.1)" }.joined(separator: ", ")))"
    }

    private struct Snapshot {
        var errors: [String: Double] = [:]
        var bytes = 0.0
        var residentKiB = 0
        var cpuNanoseconds: UInt64 = 0
        var scrapeSeconds = 0.0
        var linkEndings: [String: Double] = [:]
    }

    private func snapshot(_ gateway: FaultGateway, _ devices: [GarbageDevice], pid: Int32) throws(FaultFailure) -> Snapshot {
        let asked = ContinuousClock.now
        guard let metrics = gateway.metrics(timeout: 30) else { throw FaultFailure("the gateway's metrics endpoint did not answer within 30 s") }
        var snapshot = Snapshot()
        snapshot.scrapeSeconds = seconds(ContinuousClock.now - asked)
        for cause in ["connect-failed", "refused", "closed-by-server", "dropped", "heartbeat-timeout", "connection-age", "protocol-error"] {
            snapshot.linkEndings[cause] = metrics.sum("serialbridge_link_reconnects_total", ["cause": cause])
        }
        for device in devices {
            let labels = ["device": device.device]
            snapshot.errors[device.device] = Self.errorMetrics.reduce(0) { $0 + metrics.sum($1, labels) }
            snapshot.bytes += metrics.value("serialbridge_device_bytes_total", labels) ?? 0
        }
        snapshot.residentKiB = ProcessStats.residentKiB(pid: pid)
        snapshot.cpuNanoseconds = ProcessStats.cpuNanoseconds(pid: pid)
        return snapshot
    }
}
