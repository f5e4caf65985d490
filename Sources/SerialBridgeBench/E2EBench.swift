import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `serialbridge-bench e2e`: simulated devices on ptys → gateway process → server process on
/// loopback, against the Python baseline on the same ptys (docs/PERFORMANCE.md).
struct E2EBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "End to end: ptys → gateway → server. Throughput flat out, latency at 1k and 10k readings/s, footprint with 1/64/256 devices, against a Python baseline.",
        discussion: """
        Each phase starts a fresh server (rate limit off), writes numbered CSV lines into ptys from one feeder thread, \
        and runs the gateway (then the baseline, scripts/bench/baseline.py) on them. Latency runs from a line's write \
        into its pty to the server's /live message for its reading (published at commit, when its ack is sent). \
        CPU is utime+stime from /proc/PID/stat over the window. Build with -c release.
        """
    )

    @Flag(help: "A short smoke run: 1 s warm-up, 3 s windows.")
    var quick = false

    @Flag(help: "Print the results as JSON instead of a table.")
    var json = false

    @Option(help: "Seconds measured per phase (default 10; --quick 3).")
    var seconds: Int?

    @Option(help: "Seconds of warm-up after the first reading reached the server (default 3; --quick 1).")
    var warmup: Int?

    @Option(help: "Devices sharing the rate in the latency and flat-out phases.")
    var devices = 8

    @Option(help: "Readings/s per device in the footprint phases.")
    var footprintRate = 10.0

    @Option(help: "Phases to run (comma-separated): latency-1k, latency-10k, saturation, sustained-105k, footprint-1, footprint-64, footprint-256.")
    var only: String?

    @Flag(help: "Measure the gateway only, not the Python baseline.")
    var noBaseline = false

    @Option(help: "The gateway's wire encoding: json or binary (its config's `encoding`).")
    var encoding = "json"

    @Option(help: "The gateway's readIntervalMs (default: the gateway's own default), to weigh latency against CPU.")
    var readIntervalMs: Int?

    @Flag(help: "Start the server with --no-compression (no permessage-deflate for the gateway nor the baseline).")
    var noCompression = false

    @Option(help: "Folder holding serialbridge and serialbridge-server (default: the folder of this executable).")
    var bin: String?

    @Option(help: "The shipped profiles folder (default: DeviceProfiles here or above the executable).")
    var profiles: String?

    @Option(help: "The Python 3 interpreter for the baseline.")
    var python = "python3"

    @Flag(help: "Keep each phase's folder (logs, configs, databases) in the temporary directory.")
    var keepFiles = false

    var phases: [E2EPhase] {
        [
            E2EPhase(name: "latency-1k", devices: devices, pace: .paced(total: 1_000), measuresLatency: true),
            E2EPhase(name: "latency-10k", devices: devices, pace: .paced(total: 10_000), measuresLatency: true),
            E2EPhase(name: "saturation", devices: devices, pace: .flatOut, measuresLatency: false),
            E2EPhase(name: "sustained-105k", devices: devices, pace: .paced(total: 105_000), measuresLatency: false),
        ] + [1, 64, 256].map {
            E2EPhase(name: "footprint-\($0)", devices: $0, pace: .paced(total: footprintRate * Double($0)), measuresLatency: false)
        }
    }

    private var selection: [String] {
        (only ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        let names = phases.map(\.name)
        for name in selection where !names.contains(name) {
            throw ValidationError("no phase named \(name); there are \(names.joined(separator: ", "))")
        }
        guard ["json", "binary"].contains(encoding) else { throw ValidationError("--encoding is json or binary") }
        guard devices >= 1, footprintRate > 0 else { throw ValidationError("--devices and --footprint-rate must be positive") }
        if let readIntervalMs, !(0...1_000).contains(readIntervalMs) { throw ValidationError("--read-interval-ms is 0 to 1000") }
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let binaries = try FaultBinaries.locate(bin: bin, profiles: profiles)
        let subjects: [E2ESubject] = noBaseline ? [.gateway] : [.gateway, .baseline]
        let root = URL(fileURLWithPath: binaries.profiles).deletingLastPathComponent().path
        let interpreter = try noBaseline ? python : BaselinePython.prepare(python)
        let options = E2EOptions(
            python: interpreter,
            baselineScript: root + "/scripts/bench/baseline.py",
            gatewayMembers: ["\"encoding\": \"\(encoding)\""] + (readIntervalMs.map { ["\"readIntervalMs\": \($0)"] } ?? []), serverOptions: noCompression ? ["--no-compression"] : [],
            warmup: .seconds(warmup ?? (quick ? 1 : 3)), window: .seconds(seconds ?? (quick ? 3 : 10)), keepFiles: keepFiles
        )
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sb-e2e-\(getpid())").path
        let handlers = FaultCleanup.installSignalHandlers(root: folder)
        defer {
            if !keepFiles { try? FileManager.default.removeItem(atPath: folder) }
            withExtendedLifetime(handlers) {}
        }
        var results: [E2EResult] = []
        for phase in phases where selection.isEmpty || selection.contains(phase.name) {
            for subject in subjects {
                progress("e2e: \(phase.name) with the \(subject.rawValue) (\(phase.devices) devices, \(phase.offered.map { "\(Int($0)) lines/s" } ?? "flat out"))…")
                // Off the main actor: the phase's waits and listeners must not share its thread.
                let result = try await Task.detached { try await phase.run(subject, binaries: binaries, root: folder, options: options) }.value
                results.append(result)
            }
        }
        let report = E2EReport.make(results: results, quick: quick)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table())
        }
    }

    private func progress(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
