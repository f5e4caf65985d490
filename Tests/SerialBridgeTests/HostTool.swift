import Foundation
import Testing

/// Host tools the packaging tests run (`systemd-analyze`, `make`, `dpkg-deb`): found on the usual
/// paths, run to completion with their output captured.
enum HostTool {
    /// The tool's full path, when installed.
    static func find(_ name: String) -> String? {
        ["/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/", "/usr/local/bin/"]
            .map { $0 + name }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The tools' paths, or nil after a skip note (outside CI) or a recorded issue (under CI, where
    /// scripts/test.sh installs them).
    static func required(_ names: [String], for what: String) -> [String: String]? {
        var found: [String: String] = [:]
        var missing: [String] = []
        for name in names {
            if let path = find(name) { found[name] = path } else { missing.append(name) }
        }
        if missing.isEmpty { return found }
        let message = "\(what) needs \(missing.joined(separator: ", ")) (apt-get install -y systemd make dpkg)"
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("\(message); scripts/test.sh installs them")
        } else {
            print("skipped: \(message)")
        }
        return nil
    }

    /// What a finished run printed.
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Both streams, for failure messages.
        var text: String { stdout + stderr }
    }

    /// Runs `arguments` (the first is the binary's path) in `directory` and waits for it, on a
    /// thread of its own. Output goes to temporary files, so neither stream can fill a pipe. The
    /// child gets this process's environment with `environment` on top, or with `inherit` false
    /// exactly `environment`.
    static func run(
        _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:], inherit: Bool = true
    ) async throws -> Run {
        try await offThePool {
            let scratch = try TemporaryDirectory()
            let outPath = scratch.file("stdout"), errPath = scratch.file("stderr")
            _ = FileManager.default.createFile(atPath: outPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
            let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
            if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
            if !inherit {
                process.environment = environment
            } else if !environment.isEmpty {
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            }
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = out
            process.standardError = err
            try process.run()
            process.waitUntilExit()
            try out.close()
            try err.close()
            return Run(
                status: process.terminationStatus,
                stdout: try String(contentsOfFile: outPath, encoding: .utf8),
                stderr: try String(contentsOfFile: errPath, encoding: .utf8)
            )
        }
    }
}
