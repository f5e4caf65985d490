import ArgumentParser
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The executables and profiles the scenarios run.
struct FaultBinaries: Sendable {
    /// `serialbridge` (gateway, simulator, spool status).
    let gateway: String
    /// `serialbridge-server`.
    let server: String
    /// The folder of shipped profiles (`DeviceProfiles`).
    let profiles: String

    /// The gateway and server executables (next to this one unless `--bin`), and the profiles.
    static func locate(bin: String?, profiles: String?) throws -> FaultBinaries {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let folder = bin ?? URL(fileURLWithPath: own).deletingLastPathComponent().path
        let gateway = folder + "/serialbridge"
        let server = folder + "/serialbridge-server"
        for path in [gateway, server] where !FileManager.default.isExecutableFile(atPath: path) {
            throw ValidationError("\(path) is not built: swift build --product serialbridge && swift build --product serialbridge-server (or pass --bin)")
        }
        var candidates = [profiles ?? FileManager.default.currentDirectoryPath + "/DeviceProfiles"]
        var up = URL(fileURLWithPath: folder)
        for _ in 0..<5 where profiles == nil {
            up.deleteLastPathComponent()
            candidates.append(up.path + "/DeviceProfiles")
        }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/generic-csv-lines.json") }) else {
            throw ValidationError("no DeviceProfiles folder with generic-csv-lines.json found; pass --profiles")
        }
        return FaultBinaries(gateway: gateway, server: server, profiles: URL(fileURLWithPath: found).standardizedFileURL.path)
    }
}

/// One scenario's folder, processes and mounts. ``cleanup()`` kills every process group it started,
/// unmounts what it mounted and deletes the folder; it runs when the scenario ends, whatever the
/// outcome, and from the bench's SIGINT/SIGTERM handler.
final class FaultWorkspace: Sendable {
    /// The scenario's temporary folder.
    let directory: String
    /// What to run.
    let binaries: FaultBinaries
    private let state = Mutex<(children: [FaultChild], mounts: [String], closers: [@Sendable () -> Void], cleaned: Bool)>(([], [], [], false))

    /// Creates `root/scenario` (empty) and registers the workspace for cleanup on a signal.
    init(scenario: String, root: String, binaries: FaultBinaries) throws {
        directory = root + "/" + scenario
        self.binaries = binaries
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        FaultCleanup.register(self)
    }

    /// A path in the folder.
    func file(_ name: String) -> String { directory + "/" + name }

    /// Starts a process whose output goes to `NAME.log` in the folder (one log per name, appended
    /// across restarts).
    func spawn(_ name: String, _ executable: String, _ arguments: [String]) throws(FaultFailure) -> FaultChild {
        let child = try FaultChild(name: name, executable: executable, arguments: arguments, log: file(name + ".log"))
        state.withLock { $0.children.append(child) }
        return child
    }

    /// Runs `body` at cleanup, after the processes are killed and before the folder goes (for the
    /// bench's own devices and proxies).
    func onCleanup(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.closers.append(body) }
    }

    /// Mounts a tmpfs of `bytes` at `path` (root only); unmounted by ``cleanup()``.
    func mountTmpfs(at path: String, bytes: Int) throws(FaultFailure) {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = "size=\(bytes),mode=0700".withCString { mount("tmpfs", path, "tmpfs", 0, $0) }
        guard mounted == 0 else {
            throw FaultFailure("cannot mount a \(bytes)-byte tmpfs at \(path): \(String(cString: strerror(errno)))")
        }
        state.withLock { $0.mounts.append(path) }
    }

    /// The last lines of every process log, for a failure report.
    func logTails(lines: Int = 15) -> String {
        let logs = state.withLock { Set($0.children.map(\.log)) }.sorted()
        return logs.map { log in
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n    ")
            return "  --- \(URL(fileURLWithPath: log).lastPathComponent) (last lines)\n    \(tail)"
        }.joined(separator: "\n")
    }

    /// Kills every process group started here, unmounts, deletes the folder (unless `keepFiles`).
    /// Idempotent.
    func cleanup(keepFiles: Bool = false) {
        let (children, mounts, closers) = state.withLock { state -> ([FaultChild], [String], [@Sendable () -> Void]) in
            if state.cleaned { return ([], [], []) }
            state.cleaned = true
            return (state.children, state.mounts, state.closers)
        }
        for child in children { child.killNow() }
        for close in closers { close() }
        for path in mounts.reversed() where umount2(path, 0) != 0 {
            // Something still holds a file there: detach it now, it goes when released.
            umount2(path, Int32(MNT_DETACH))
        }
        if !keepFiles { try? FileManager.default.removeItem(atPath: directory) }
        FaultCleanup.unregister(self)
    }
}
