import Foundation
import SerialBridgeProfiles

/// Counting devices bound to one gateway, and the end of a scenario that streams them: stop the
/// devices, wait for the server to hold every line, check that every identity and every line is
/// there exactly once.
struct CountingRig: Sendable {
    /// What a finished stream came to.
    struct Outcome: Sendable {
        /// Epochs and frames (readings and device events) stored, every epoch complete.
        let epochs: Int
        let frames: Int
        /// Lines each device wrote.
        let written: [Int]
        /// Per device, how its lines came to the server.
        let lines: [DeliveryCheck.Lines]

        /// Lines written by all devices.
        var totalWritten: Int { written.reduce(0, +) }
    }

    let devices: [CountingDevice]

    /// `count` devices `counter-0`… at `rate` lines/s each (at most `limit` lines each), linked
    /// in the workspace's `dev` folder. They are closed at the workspace's cleanup.
    init(workspace: FaultWorkspace, count: Int, rate: Double, limit: Int? = nil) throws {
        let profile = try ProfileLoader.load(file: workspace.binaries.profiles + "/generic-csv-lines.json")
        try FileManager.default.createDirectory(atPath: workspace.file("dev"), withIntermediateDirectories: true)
        devices = try (0..<count).map { index in
            let device = try CountingDevice(device: "counter-\(index)", link: workspace.file("dev/counter-\(index)"), profile: profile, rate: rate, limit: limit)
            workspace.onCleanup { device.close() }
            return device
        }
    }

    /// The config's port bindings.
    var ports: [FaultGateway.Port] {
        devices.map { FaultGateway.Port(device: $0.device, path: $0.link, profile: "generic-csv-lines") }
    }

    func start() {
        for device in devices { device.start() }
    }

    /// Stops the devices, waits (up to `timeout`) until the server holds every device's last line
    /// and the gateway's spool is empty, then checks identities and lines (see
    /// ``DeliveryCheck/lines(_:written:device:killed:)`` for `killed`).
    func finish(server: FaultServer, gateway: FaultGateway, killed: Bool = false, timeout: Duration = .seconds(120)) async throws(FaultFailure) -> Outcome {
        var written: [Int] = []
        for device in devices { written.append(await device.stop()) }
        let ledger = server.ledger
        let expected = written
        try await waitFor("the server to hold every line (\(DeliveryCheck.describe(expected)) lines written)", timeout: timeout, every: .milliseconds(200)) {
            for (device, lines) in zip(devices, expected) where try ledger.newestLine(device: device.device) != lines { return false }
            return gateway.metrics()?.value("serialbridge_spool_frames") == 0
        }
        let (epochs, frames) = try DeliveryCheck.identities(ledger.identities())
        var lines: [DeliveryCheck.Lines] = []
        for (device, count) in zip(devices, written) {
            lines.append(try DeliveryCheck.lines(ledger.countedReadings(device: device.device), written: count, device: device.device, killed: killed))
        }
        return Outcome(epochs: epochs, frames: frames, written: written, lines: lines)
    }
}
