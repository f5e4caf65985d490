import Foundation
import Synchronization
import Testing

/// A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary directory, a postmaster on
/// a free loopback port, stopped (and the directory removed) when the test process exits.
///
/// One cluster serves the whole test process, because `initdb` plus start take a second or two;
/// each test gets a database of its own from `makeDatabase()`, so tests never see each other's rows.
/// Under `CI=true` a missing PostgreSQL is a failure, elsewhere the test is skipped with the command
/// that installs it (TESTING.md).
final class PostgresTestCluster: Sendable {
    /// The server binaries of Debian's `postgresql` package (not on PATH).
    static let binaries = "/usr/lib/postgresql/15/bin"

    let directory: String
    let port: Int

    /// The cluster of this test process, started on first use; throws why when it cannot start.
    static func shared() throws -> PostgresTestCluster {
        try started.withLock { state in
            if let cluster = state.cluster { return cluster }
            if let failure = state.failure { throw failure }
            do {
                let cluster = try PostgresTestCluster()
                state.cluster = cluster
                atexit { PostgresTestCluster.stopAtExit() }
                return cluster
            } catch {
                state.failure = error
                throw error
            }
        }
    }

    /// A fresh, empty database in the shared cluster (started on first use); returns its URL.
    ///
    /// Starting the cluster and `createdb` wait for child processes: that waiting happens on a
    /// thread of its own (``offThePool(_:)``), never on one of the few threads of Swift's
    /// cooperative pool, where it would stall every other test of the process.
    static func newDatabase() async throws -> String {
        try await offThePool { try shared().makeDatabase() }
    }

    /// ``shared()`` for async tests: started (on first use) off the cooperative pool.
    static func running() async throws -> PostgresTestCluster {
        try await offThePool { try shared() }
    }

    /// Whether the server binaries are here; tests use it to skip (outside CI) with a message.
    static var isInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: binaries + "/initdb")
    }

    /// The message of a test skipped for want of PostgreSQL.
    static let missingMessage =
        "PostgreSQL 15 is not installed (apt-get install -y postgresql); scripts/test.sh installs it"

    /// A fresh, empty database in the shared cluster; returns its connection URL.
    func makeDatabase() throws -> String {
        let name = "sbtest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try runAsOwner([Self.binaries + "/createdb", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name])
        return url(database: name)
    }

    /// The connection URL of `database` in this cluster (trust authentication on loopback).
    func url(database: String) -> String {
        "postgres://postgres@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    private init() throws {
        guard Self.isInstalled else { throw PostgresTestClusterError.notInstalled }
        Self.stopOrphans()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sbpg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try String(getpid()).write(toFile: base + "/owner", atomically: true, encoding: .utf8)
        directory = base
        port = freePort()
        // initdb and pg_ctl refuse to run as root: the cluster belongs to the postgres user.
        if getuid() == 0 { _ = try runCommand(["chown", "postgres:postgres", base]) }
        try runAsOwner([
            Self.binaries + "/initdb", "-D", base + "/data", "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale=C",
        ])
        // fsync off: a test cluster that dies with the machine is thrown away anyway.
        let options = "-p \(port) -k \(base) -c listen_addresses=127.0.0.1 -c fsync=off"
            + " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        // Foundation's Process notices a child's exit when a socket the child inherits closes; the
        // postmaster would inherit it too and keep it open, so `waitUntilExit` would never return.
        // Python's subprocess closes every descriptor above stderr before it starts pg_ctl.
        try runAsOwner([
            "python3", "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], close_fds=True))",
            Self.binaries + "/pg_ctl", "-D", base + "/data", "-o", options, "-l", base + "/server.log",
            "-w", "-t", "60", "start",
        ])
        Self.stopOnExit.withLock { $0 = base }
    }

    private func runAsOwner(_ arguments: [String]) throws {
        let command = getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + arguments : arguments
        let (status, text) = try runCommand(command)
        guard status == 0 else {
            throw PostgresTestClusterError.commandFailed(arguments.joined(separator: " "), text)
        }
    }

    private struct State: ~Copyable {
        var cluster: PostgresTestCluster?
        var failure: (any Error)?
    }

    private static let started = Mutex(State())
    private static let stopOnExit = Mutex<String?>(nil)

    /// Stops the postmaster and removes the cluster; called by `atexit`, so it must not throw.
    private static func stopAtExit() {
        guard let base = stopOnExit.withLock({ $0 }) else { return }
        stop(base)
    }

    /// A test process killed outright never runs `atexit`: stop the clusters of owners that are gone.
    private static func stopOrphans() {
        let temporary = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix("sbpg-") {
            let base = temporary + "/" + name
            guard let owner = try? String(contentsOfFile: base + "/owner", encoding: .utf8), let pid = pid_t(owner.trimmingCharacters(in: .whitespacesAndNewlines)),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            stop(base)
        }
    }

    private static func stop(_ base: String) {
        let stop = [binaries + "/pg_ctl", "-D", base + "/data", "-m", "immediate", "-w", "stop"]
        _ = try? runCommand(getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + stop : stop)
        try? FileManager.default.removeItem(atPath: base)
    }
}

/// Why the test cluster could not start.
enum PostgresTestClusterError: Error, CustomStringConvertible {
    case notInstalled
    case commandFailed(String, String)

    var description: String {
        switch self {
        case .notInstalled: PostgresTestCluster.missingMessage
        case .commandFailed(let command, let output): "\(command) failed: \(output)"
        }
    }
}

/// Whether a PostgreSQL-backed test can run here: always under CI (where a missing PostgreSQL
/// must fail the test, not skip it), elsewhere only when the server binaries are installed.
func postgresAvailable() -> Bool {
    ProcessInfo.processInfo.environment["CI"] == "true" || PostgresTestCluster.isInstalled
}

@Suite("PostgreSQL test cluster", .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresTestClusterTests {
    @Test("starts once and hands out empty databases of their own")
    func databases() throws {
        let cluster = try PostgresTestCluster.shared()
        let first = try cluster.makeDatabase()
        let second = try cluster.makeDatabase()
        #expect(first != second)
        #expect(try PostgresTestCluster.shared() === cluster)
        let (status, text) = try runCommand([
            "psql", first, "-Atc", "select current_database() <> '' and version() like 'PostgreSQL 15%'",
        ])
        #expect(status == 0, "\(text)")
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "t")
    }
}
