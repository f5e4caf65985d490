import Foundation
import GRDB
import Logging
import SerialBridgeSerial
import Synchronization
import Testing

/// The executables built beside the test bundle (`swift build --build-tests` builds them all).
enum BuiltProducts {
    static func path(_ name: String) -> String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
            Repository.root.appendingPathComponent(".build/debug"),
        ]
        return candidates.map { $0.appendingPathComponent(name).path }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// A child process whose output goes to a log file in the test's folder.
struct ChildProcess {
    let process: Process

    init(_ executable: String, _ arguments: [String], log: String) throws {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    /// Runs to the end and returns standard output.
    static func output(_ executable: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
        process.waitUntilExit()
    }
}

/// A device sending a burst of CSV lines `N,1` (N = 1, 2, 3, …) at about 5,000 lines/s from its
/// own thread (writes block while nobody reads the tty), until stopped.
final class BurstingDevice: Sendable {
    let terminal: PseudoTerminal
    private let state = Mutex<(stop: Bool, written: Int, finished: Bool)>((false, 0, false))

    init(_ terminal: PseudoTerminal) { self.terminal = terminal }

    var written: Int { state.withLock { $0.written } }
    var finished: Bool { state.withLock { $0.finished } }
    func stop() { state.withLock { $0.stop = true } }

    func start(upTo limit: Int = 1_000_000) {
        Thread.detachNewThread { [self] in
            var next = 1
            while next <= limit, !state.withLock({ $0.stop }) {
                let chunk = (next..<(next + 50)).map { "\($0),1\n" }.joined()
                guard (try? terminal.write(Array(chunk.utf8))) != nil else { break }
                next += 50
                state.withLock { $0.written = next - 1 }
                usleep(10_000)
            }
            state.withLock { $0.finished = true }
        }
    }
}

@Suite("Crash safety: the real gateway binary, SIGKILLed mid-burst", .serialized)
struct SpoolCrashTests {
    /// A free loopback port (the server is started on it only after the kill).
    static func freePort() throws -> Int {
        try RefusingPort().port
    }

    /// The committed high-water mark as `serialbridge spool status --json` reports it.
    static func committed(_ binary: String, config: String) -> (epoch: Int64, sequence: Int64)? {
        guard let data = try? ChildProcess.output(binary, ["spool", "status", "--config", config, "--json"]),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let status = object["status"] as? [String: Any], let committed = status["committed"] as? [String: Any],
              let epoch = committed["epoch"] as? Int, let sequence = committed["seq"] as? Int else { return nil }
        return (Int64(epoch), Int64(sequence))
    }

    @Test func everythingCommittedBeforeAKillArrivesExactlyOnceAndReadingsAfterTheRestartToo() async throws {
        guard let binary = BuiltProducts.path("serialbridge") else {
            Issue.record("the serialbridge executable is not built; run `swift build --build-tests` first")
            return
        }
        let logs = LogCapture()
        let directory = try TemporaryDirectory()
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let port = try Self.freePort()
        let config = try writeGatewayConfig(in: directory, port: port, devicePath: terminal.slavePath)

        // First run: no server yet, so everything the device sends goes to the spool only.
        let first = try ChildProcess(binary, ["run", "--config", config], log: directory.file("first.log"))
        defer { if first.process.isRunning { first.signal(SIGKILL) } }
        let device = BurstingDevice(terminal)
        defer { device.stop() }
        device.start()
        let mark = Mutex<(epoch: Int64, sequence: Int64)?>(nil)
        try await eventually("1,500 frames committed", timeout: .seconds(60)) {
            let found = Self.committed(binary, config: config).flatMap { $0.sequence >= 1_500 ? $0 : nil }
            mark.withLock { $0 = found }
            return found != nil
        }
        let committed = try #require(mark.withLock { $0 })
        first.signal(SIGKILL)
        #expect(!device.finished, "the kill came in the middle of the burst")
        device.stop()

        // Second run, with the server up.
        let server = try await TestServer(directory: TemporaryDirectory(), port: port, gateway: "gw-test", logger: logs.logger("server"))
        let second = try ChildProcess(binary, ["run", "--config", config], log: directory.file("second.log"))
        defer { if second.process.isRunning { second.signal(SIGKILL) } }
        var readOnly = Configuration()
        readOnly.readonly = true
        let database = try DatabaseQueue(path: server.directory.file("server.sqlite"), configuration: readOnly)
        @Sendable func identities(epoch: Int64, upTo sequence: Int64) throws -> [Int64] {
            try database.read { db in
                try Int64.fetchAll(db, sql: """
                    SELECT seq FROM readings WHERE gateway = 'gw-test' AND epoch = ?1 AND seq <= ?2
                    UNION ALL SELECT seq FROM device_events WHERE gateway = 'gw-test' AND epoch = ?1 AND seq <= ?2
                    ORDER BY seq
                    """, arguments: [epoch, sequence])
            }
        }
        try await eventually("every frame up to \(committed.epoch)/\(committed.sequence) at the server", timeout: .seconds(60)) {
            try identities(epoch: committed.epoch, upTo: committed.sequence).count >= Int(committed.sequence)
        }
        try await eventually("the device's writer released") { device.finished }

        // Readings made after the restart arrive too, behind the backlog.
        for n in 900_001...900_100 { try terminal.write(Array("\(n),2\n".utf8)) }
        try await eventually("the readings made after the restart stored", timeout: .seconds(60)) {
            try await database.read { db in
                try Int.fetchOne(db, sql: #"SELECT COUNT(*) FROM readings WHERE gateway = 'gw-test' AND epoch = ? AND vals LIKE '%"humidity":2.0}'"#, arguments: [committed.epoch + 1])
            } == 100
        }

        // Exactly once: each identity up to the mark once, and the device's lines in order, none twice.
        #expect(try identities(epoch: committed.epoch, upTo: committed.sequence) == Array(1...committed.sequence))
        let temperatures = try await database.read { db in
            try String.fetchAll(db, sql: "SELECT vals FROM readings WHERE gateway = 'gw-test' AND epoch = ? ORDER BY seq", arguments: [committed.epoch])
        }.compactMap { $0.split(separator: ",").first?.split(separator: ":").last.flatMap { Double($0) }.map(Int.init) }
        #expect(temperatures.count >= Int(committed.sequence) - 1)
        #expect(temperatures == Array(1...temperatures.count), "the first run's readings are the device's lines 1, 2, 3, … once each")

        second.signal(SIGTERM)
        #expect(second.process.terminationStatus == 0)
        try await server.stop()
    }
}
