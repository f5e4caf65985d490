import ArgumentParser
import Foundation
import HTTPTypes
import Logging
import SerialBridgeProtocol
import SerialBridgeServer
import Synchronization
import WSClient

#if canImport(Glibc)
import Glibc
#endif

/// Many gateway connections against a real `serialbridge-server` process: the server's CPU and
/// memory, and how long each reading waits for its acknowledgement.
struct ServerLoadBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server-load",
        abstract: "N simulated gateway connections × R readings/s against a serialbridge-server process: its CPU %, RSS, ack latency."
    )

    @Option(help: "Gateway connections.")
    var gateways = 500

    @Option(help: "Readings per second per gateway (one reading per message, as a lightly loaded gateway sends them).")
    var rate = 20

    @Option(help: "Seconds measured, after every connection is up and a warm-up.")
    var seconds = 60

    @Option(help: "The server binary (default: next to this one).")
    var server: String?

    @Option(help: "Storage: sqlite (a file per instance… use 1 instance), postgres (a throwaway PostgreSQL cluster started here), or a postgres:// URL.")
    var database = "sqlite"

    @Option(help: "Server instances sharing the database (PostgreSQL only); gateways are split between them round-robin.")
    var instances = 1

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-load-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = server ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("serialbridge-server").path
        let tokens = try LoadTokens.write(gateways: gateways, into: directory, server: binary)
        var cluster: BenchPostgres?
        let storageArguments: [String]
        switch database {
        case "sqlite":
            guard instances == 1 else { throw ValidationError("several instances need PostgreSQL (--database postgres)") }
            storageArguments = ["--db", directory + "/load.sqlite"]
        case "postgres":
            let started = try BenchPostgres()
            cluster = started
            storageArguments = ["--database", started.url]
        default:
            storageArguments = ["--database", database]
        }
        defer { cluster?.stop() }
        // On PostgreSQL the server takes the gateway tokens from the database, not from a file.
        var tokenArguments = ["--tokens", tokens.file]
        if let url = storageArguments.last, storageArguments.first == "--database" {
            _ = try await PostgresCredentialCommands.importTokens(file: tokens.file, database: try PostgresURL(url))
            tokenArguments = []
        }

        var processes: [Process] = []
        defer {
            for process in processes {
                process.terminate()
                process.waitUntilExit()
            }
        }
        var ports: [Int] = []
        for instance in 0..<max(1, instances) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            let portFile = directory + "/port-\(instance)"
            process.arguments = [
                "serve", "--port", "0", "--port-file", portFile, "--log-level", "warning",
            ] + tokenArguments + storageArguments
            try process.run()
            processes.append(process)
            var port = 0
            for _ in 0..<600 where port == 0 {
                port = Int((try? String(contentsOfFile: portFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
                if port == 0 { try await Task.sleep(for: .milliseconds(50)) }
            }
            guard port != 0 else { throw ValidationError("server instance \(instance) did not start (no port file after 30 s)") }
            ports.append(port)
        }
        print("\(processes.count) server instance(s) on ports \(ports) (\(database == "sqlite" ? "SQLite" : "PostgreSQL")); \(gateways) gateways × \(rate) readings/s for \(seconds) s")

        let logger = {
            var logger = Logger(label: "load")
            logger.logLevel = .error
            return logger
        }()
        let recorder = LatencyRecorder()
        let state = LoadState()
        let interval = Duration.nanoseconds(1_000_000_000 / max(1, rate))
        let ports_ = ports
        // Off the main actor: closures formed in `run()` would otherwise run every simulated
        // gateway on the main thread.
        let clients = Task.detached {
            await LoadGateway.runFleet(tokens: tokens.pairs, ports: ports_, interval: interval, logger: logger, recorder: recorder, state: state)
        }
        for _ in 0..<1200 where state.connected.load(ordering: .relaxed) < gateways {
            try await Task.sleep(for: .milliseconds(50))
        }
        print("connected: \(state.connected.load(ordering: .relaxed)) of \(gateways)")
        try await Task.sleep(for: .seconds(5))
        recorder.reset()
        let pids = processes.map(\.processIdentifier)
        let serversCPU = { pids.reduce(UInt64(0)) { $0 + ProcessStats.cpuNanoseconds(pid: $1) } }
        let startServerCPU = serversCPU()
        let startDatabaseCPU = cluster?.cpuNanoseconds() ?? 0
        let startOwnCPU = ProcessStats.cpuNanoseconds(pid: getpid())
        let start = ContinuousClock.now
        var peakRSS = 0
        for _ in 0..<seconds {
            try await Task.sleep(for: .seconds(1))
            peakRSS = max(peakRSS, pids.map { ProcessStats.residentKiB(pid: $0) }.max() ?? 0)
        }
        let elapsed = ContinuousClock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let serverCPU = Double(serversCPU() - startServerCPU) / 1e9 / wall * 100
        let databaseCPU = Double((cluster?.cpuNanoseconds() ?? 0) - startDatabaseCPU) / 1e9 / wall * 100
        let ownCPU = Double(ProcessStats.cpuNanoseconds(pid: getpid()) - startOwnCPU) / 1e9 / wall * 100
        let pid = pids[0]
        let summary = recorder.summary()
        state.stop.store(true, ordering: .relaxed)
        clients.cancel()
        print(String(format: "acked readings/s: %.0f (offered %d)", Double(summary.count) / wall, gateways * rate))
        print(String(format: "ack latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f", summary.p50, summary.p90, summary.p99, summary.max))
        print(String(format: "server CPU (all instances): %.1f %% of one core (2 cores = 200 %%); load generator: %.1f %%", serverCPU, ownCPU))
        if cluster != nil { print(String(format: "PostgreSQL CPU (postmaster and backends): %.1f %%", databaseCPU)) }
        print("server RSS: \(ProcessStats.residentKiB(pid: pid) / 1024) MiB now, \(peakRSS / 1024) MiB peak sampled")
    }
}

/// One simulated gateway: hello, then one reading every `interval`, a ping every 5 s.
struct LoadGateway: Sendable {
    /// Runs one simulated gateway per token until cancelled, connecting in waves of 50.
    static func runFleet(
        tokens: [(String, String)], ports: [Int], interval: Duration, logger: Logger, recorder: LatencyRecorder, state: LoadState
    ) async {
        await withTaskGroup(of: Void.self) { group in
            for (index, (gateway, token)) in tokens.enumerated() {
                // Round-robin over the instances, as a load balancer without stickiness would.
                let port = ports[index % ports.count]
                group.addTask {
                    await LoadGateway(gateway: gateway, token: token, port: port, interval: interval, logger: logger)
                        .run(recorder: recorder, state: state)
                }
                if index % 50 == 49 { try? await Task.sleep(for: .milliseconds(100)) }
            }
        }
    }

    let gateway: String
    let token: String
    let port: Int
    let interval: Duration
    let logger: Logger

    func run(recorder: LatencyRecorder, state: LoadState) async {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        headers[.secWebSocketProtocol] = Subprotocol.name
        let sent = PendingAcks()
        let gateway = self.gateway
        let interval = self.interval
        do {
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/gateway/v1", configuration: .init(additionalHeaders: headers), logger: logger
            ) { inbound, outbound, _ in
                let epoch = Int64(Date().timeIntervalSince1970)
                try await outbound.write(.text(String(decoding: MessageCodec.encode(.hello(Hello(gateway: gateway, software: "load", epoch: epoch, lastSequence: 0))), as: UTF8.self)))
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                guard case .text? = try await messages.next() else { return }
                state.connected.add(1, ordering: .relaxed)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var sequence: Int64 = 0
                        var next = ContinuousClock.now + .milliseconds(Int64.random(in: 0..<1000))
                        var lastPing = ContinuousClock.now
                        while !Task.isCancelled {
                            try await Task.sleep(until: next, clock: .continuous)
                            next += interval
                            sequence += 1
                            let reading = Reading(
                                gateway: gateway, id: ReadingID(epoch: epoch, sequence: sequence), device: "sensor-1", profile: "load",
                                timestamp: Timestamp.nowMilliseconds(),
                                values: [NamedValue(name: "temperature", value: .float(20 + Double(sequence % 100) / 10), unit: "°C"),
                                         NamedValue(name: "humidity", value: .float(45.5), unit: "%")]
                            )
                            let now = ContinuousClock.now
                            sent.instants.withLock { $0[sequence] = now }
                            try await outbound.write(.text(String(decoding: MessageCodec.encode(.reading(reading)), as: UTF8.self)))
                            if now - lastPing > .seconds(5) {
                                lastPing = now
                                try await outbound.write(.text(String(decoding: MessageCodec.encode(.ping(Heartbeat(timestamp: Timestamp.nowMilliseconds()))), as: UTF8.self)))
                            }
                        }
                    }
                    while let message = try await messages.next() {
                        guard case .text(let text) = message, case .ack(let ack) = try MessageCodec.decode(text.utf8) else { continue }
                        let now = ContinuousClock.now
                        let done = sent.instants.withLock { pending in
                            let keys = pending.keys.filter { $0 <= ack.id.sequence }
                            return keys.compactMap { pending.removeValue(forKey: $0) }
                        }
                        for instant in done { recorder.record(now - instant) }
                    }
                    group.cancelAll()
                }
            }
        } catch {
            if !state.stop.load(ordering: .relaxed) { logger.error("\(gateway): \(error)") }
        }
    }
}

/// When each unacknowledged reading was sent.
final class PendingAcks: Sendable {
    let instants = Mutex<[Int64: ContinuousClock.Instant]>([:])
}

/// Shared by the simulated gateways.
final class LoadState: Sendable {
    let connected = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
}

/// Ack latencies, summarised as percentiles.
final class LatencyRecorder: Sendable {
    private let samples = Mutex<[Double]>([])

    func record(_ latency: Duration) {
        let milliseconds = Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
        samples.withLock { $0.append(milliseconds) }
    }

    func reset() { samples.withLock { $0.removeAll(keepingCapacity: true) } }

    func summary() -> (count: Int, p50: Double, p90: Double, p99: Double, max: Double) {
        let sorted = samples.withLock { $0 }.sorted()
        guard !sorted.isEmpty else { return (0, 0, 0, 0, 0) }
        func at(_ fraction: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))] }
        return (sorted.count, at(0.5), at(0.9), at(0.99), sorted[sorted.count - 1])
    }
}

/// CPU and memory of a process, from /proc.
enum ProcessStats {
    /// User + system CPU time in nanoseconds.
    static func cpuNanoseconds(pid: Int32) -> UInt64 {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return 0 }
        let ticks = UInt64(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) * 1_000_000_000 / max(1, ticks)
    }

    /// Resident set size in KiB.
    static func residentKiB(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}

/// The token file the load's server is started with: one token per simulated gateway, added
/// the way `serialbridge-server tokens add` does (only hashes are stored).
enum LoadTokens {
    static func write(gateways: Int, into directory: String, server: String) throws -> (file: String, pairs: [(String, String)]) {
        let file = directory + "/tokens"
        var pairs: [(String, String)] = []
        for index in 0..<gateways {
            let gateway = "load-\(index)"
            pairs.append((gateway, try GatewayTokenCommands.add(gateway: gateway, file: file).token))
        }
        return (file, pairs)
    }
}
