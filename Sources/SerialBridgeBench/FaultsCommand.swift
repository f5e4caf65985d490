import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One scenario of the fault suite.
protocol FaultScenario: Sendable {
    /// The name printed after `fault:`.
    var name: String { get }
    /// Runs the scenario with its processes and files in `workspace`; returns the figures printed
    /// after `held`. Throws ``FaultFailure`` when the claim does not hold, ``FaultSkipped`` when it
    /// cannot be tried here.
    func run(in workspace: FaultWorkspace) async throws -> String
}

/// `serialbridge-bench faults [--quick]`: the fault-injection suite against real processes (see
/// docs/FAULTS.md).
struct FaultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "Inject faults into real server, gateway and simulator processes; print `fault: NAME held (…)` or `FAILED: …` per scenario.",
        discussion: "Scenarios: server-restart, blackhole, gateway-kill, replug, spool-full (root only), garbage. Exits 1 if any failed."
    )

    @Flag(help: "The short variant CI runs: fewer restarts and replugs, 10 s of garbage.")
    var quick = false

    @Option(help: "Run only these scenarios (comma-separated names).")
    var only: String?

    @Option(help: "Folder holding serialbridge and serialbridge-server (default: the folder of this executable).")
    var bin: String?

    @Flag(help: "Keep each scenario's folder (logs, configs, databases) in the temporary directory, for inspection.")
    var keepFiles = false

    @Option(help: "The shipped profiles folder (default: DeviceProfiles here or above the executable).")
    var profiles: String?

    func scenarios() -> [any FaultScenario] {
        [
            ServerRestartFault(restarts: quick ? 3 : 20),
            BlackholeFault(rounds: quick ? 1 : 3),
            GatewayKillFault(lines: quick ? 30_000 : 60_000, killAfter: quick ? 18_000 : 30_000),
            ReplugFault(cycles: quick ? 5 : 50),
            SpoolFullFault(fullFor: quick ? .seconds(2) : .seconds(10)),
            GarbageFault(duration: quick ? .seconds(10) : .seconds(60), baselineAt: quick ? .seconds(3) : .seconds(10)),
        ]
    }

    func validate() throws {
        let names = Set(scenarios().map(\.name))
        for name in selection where !names.contains(name) {
            throw ValidationError("no scenario named \(name); there are \(scenarios().map(\.name).joined(separator: ", "))")
        }
    }

    private var selection: [String] {
        (only ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() async throws {
        // Writes to a socket or pty whose peer is gone must fail, not kill the bench.
        signal(SIGPIPE, SIG_IGN)
        let binaries = try locateBinaries()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sb-faults-\(getpid())").path
        let handlers = FaultCleanup.installSignalHandlers(root: root)
        defer {
            if keepFiles {
                say("scenario folders kept in \(root)")
            } else {
                try? FileManager.default.removeItem(atPath: root)
            }
            withExtendedLifetime(handlers) {}
        }
        let chosen = scenarios().filter { selection.isEmpty || selection.contains($0.name) }
        say("fault suite (\(quick ? "quick" : "full")): \(chosen.map(\.name).joined(separator: ", ")); binaries in \(URL(fileURLWithPath: binaries.gateway).deletingLastPathComponent().path)")
        var failed: [String] = []
        var skipped: [String] = []
        for scenario in chosen {
            let started = ContinuousClock.now
            let workspace = try FaultWorkspace(scenario: scenario.name, root: root, binaries: binaries)
            let line: String
            do {
                let figures = try await scenario.run(in: workspace)
                line = "fault: \(scenario.name) held (\(figures))"
            } catch let reason as FaultSkipped {
                skipped.append(scenario.name)
                line = "fault: \(scenario.name) skipped: \(reason)"
            } catch {
                failed.append(scenario.name)
                line = "fault: \(scenario.name) FAILED: \(error)"
                FileHandle.standardError.write(Data("\(line)\n\(workspace.logTails())\n".utf8))
            }
            workspace.cleanup(keepFiles: keepFiles)
            say("\(line) [\(figure(seconds(ContinuousClock.now - started), decimals: 0)) s]")
        }
        guard failed.isEmpty else {
            say("fault suite: \(failed.count) of \(chosen.count) failed: \(failed.joined(separator: ", "))")
            throw ExitCode(1)
        }
        say(skipped.isEmpty ? "fault suite: every scenario held" : "fault suite: every scenario run held; skipped: \(skipped.joined(separator: ", "))")
    }

    /// Prints a line and flushes it: one line per scenario as it ends, also into a CI log or a pipe
    /// (and in order with the log tails on standard error).
    private func say(_ line: String) {
        print(line)
        fflush(nil)
    }

    private func locateBinaries() throws -> FaultBinaries {
        try FaultBinaries.locate(bin: bin, profiles: profiles)
    }
}
