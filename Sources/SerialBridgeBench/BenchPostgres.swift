import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster for the benchmarks, like the tests' (TESTING.md): `initdb` into a
/// temporary directory owned by `postgres`, a postmaster on a free loopback port, one database;
/// stopped and removed by ``stop()``.
///
/// Unlike the tests' cluster it keeps fsync and synchronous commit on, so that commits cost what
/// they cost on a real server (on this machine's disk).
final class BenchPostgres {
    static let binaries = "/usr/lib/postgresql/15/bin"
    let directory: String
    let port: Int

    /// The database's URL.
    var url: String { "postgres://postgres@127.0.0.1:\(port)/bench?sslmode=disable" }

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binaries + "/initdb") else {
            throw BenchPostgresError("PostgreSQL 15 is not installed (apt-get install -y postgresql)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-bench-pg-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = Int.random(in: 20_000...40_000)
        if getuid() == 0 { try Self.run(["chown", "postgres:postgres", directory]) }
        try Self.asOwner([Self.binaries + "/initdb", "-D", directory + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
        let options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB"
        // The postmaster must not inherit Foundation's exit-watch descriptor (see the tests' cluster).
        try Self.asOwner([
            "python3", "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], close_fds=True))",
            Self.binaries + "/pg_ctl", "-D", directory + "/data", "-o", options, "-l", directory + "/server.log", "-w", "-t", "60", "start",
        ])
        try Self.asOwner([Self.binaries + "/createdb", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "bench"])
    }

    /// Stops the postmaster and removes the cluster.
    func stop() {
        try? Self.asOwner([Self.binaries + "/pg_ctl", "-D", directory + "/data", "-m", "fast", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// CPU time of every process of the cluster (postmaster and backends), ns.
    func cpuNanoseconds() -> UInt64 {
        guard let pidText = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
              let postmaster = Int32(pidText.split(separator: "\n").first ?? "") else { return 0 }
        var total = ProcessStats.cpuNanoseconds(pid: postmaster)
        let children = (try? String(contentsOfFile: "/proc/\(postmaster)/task/\(postmaster)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ Int32($0) }) { total += ProcessStats.cpuNanoseconds(pid: child) }
        return total
    }

    private static func asOwner(_ arguments: [String]) throws {
        try run(getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + arguments : arguments)
    }

    private static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchPostgresError("\(arguments.joined(separator: " ")) failed") }
    }
}

struct BenchPostgresError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
