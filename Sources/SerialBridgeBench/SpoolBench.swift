import ArgumentParser
import Logging
import SerialBridgeProtocol
import SerialBridgeServer
import SerialBridgeSpool
import SerialBridgeUplink
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `serialbridge-bench spool`: the durable spool's append rate with the default durability, the
/// fsyncs a burst costs, and the replay of an hour's backlog of 64 devices at 10 Hz (2,304,000
/// frames) to a local server until every frame is acknowledged.
struct SpoolBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Spool append frames/s (default durability), fsyncs per burst, and backlog replay to a local server."
    )

    @Option(help: "Folder for the spool and the server database (emptied first).")
    var directory = "/tmp/serialbridge-bench-spool"

    @Option(help: "Backlog frames: 64 devices × 10 Hz × 1 h.")
    var frames = 2_304_000

    @Option(help: "Devices the frames are spread over.")
    var devices = 64

    @Flag(help: "Measure appending only.")
    var skipReplay = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "bench")
        _ = Posix.run("rm -rf '\(directory)' && mkdir -p '\(directory)'")
        let encoders = (0..<devices).map { BenchReadings.encoder(device: $0) }
        say("payload: \(BenchReadings.message(encoders[0], 1, id: ReadingID(epoch: 1, sequence: 1)).count) bytes per reading message")

        // Bursts: 64 devices report at once, one enqueue each, as device sessions do.
        do {
            let spool = try Spool.open(directory: directory + "/burst", logger: logger)
            let queue = OutboundQueue(gateway: "gw-bench", epoch: 1, spool: spool)
            var commits: [UInt64] = []
            for burst in 0..<10 {
                let before = spool.status.commits
                for device in 0..<devices { queue.enqueue(BenchReadings.batch([(encoders[device], burst)])) }
                // Wait (here, not in a test) for the group commit of this burst.
                while spool.status.committed != spool.status.lastAppended { usleep(1_000) }
                commits.append(spool.status.commits - before)
            }
            say("burst of \(devices) readings (one enqueue per device): fsyncs per burst \(commits.map(String.init).joined(separator: " "))")
            let big = spool.status.commits
            queue.enqueue(BenchReadings.batch((0..<6_400).map { (encoders[$0 % devices], $0) }))
            while spool.status.committed != spool.status.lastAppended { usleep(1_000) }
            say("burst of 6,400 readings (one enqueue): \(spool.status.commits - big) fsync(s)")
            queue.close()
        }

        // Appending the backlog, one reading per enqueue (the slowest way sessions append).
        let spool = try Spool.open(directory: directory + "/spool", logger: logger)
        let queue = OutboundQueue(gateway: "gw-bench", epoch: 1, spool: spool)
        let start = ContinuousClock.now
        let cpuStart = cpuTime()
        for index in 0..<frames {
            queue.enqueue(BenchReadings.batch([(encoders[index % devices], index / devices)]))
        }
        let appended = ContinuousClock.now - start
        let cpu = Double(cpuTime() - cpuStart) / 1e9
        spool.commit()
        let status = spool.status
        let seconds = appended.seconds
        say("append: \(frames) frames in \(appended.formatted) = \(Int(Double(frames) / seconds)) frames/s, \(Int(Double(status.bytes) / seconds / 1e6)) MB/s (CPU \(Int(cpu * 1000)) ms); \(status.commits) group commits (fsyncs), \(status.segments) segments, \(status.bytes) bytes")
        queue.close()
        say("peak RSS so far: \(Posix.peakRSSMegabytes()) MiB")
        guard !skipReplay else { return }

        // Replay: a gateway restarted with the whole backlog sends it to a local server.
        let openStart = ContinuousClock.now
        let reopened = try Spool.open(directory: directory + "/spool", logger: logger)
        say("open: \(reopened.recovery.frames) frames checked (CRC) in \((ContinuousClock.now - openStart).formatted)")
        try await Self.replay(spool: reopened, directory: directory, logger: logger)
        say("peak RSS: \(Posix.peakRSSMegabytes()) MiB")
    }

    /// Runs a server and an uplink in this process until the spool is empty.
    static func replay(spool: Spool, directory: String, logger: Logger) async throws {
        let token = "bench-token-0123456789abcdef"
        let bound = Mutex<Int?>(nil)
        let app = try ServerApplication.make(
            options: ServerOptions(host: "127.0.0.1", port: 0, databasePath: directory + "/server.sqlite", tokens: TokenStore([("gw-bench", token)])),
            logger: logger
        ) { port in bound.withLock { $0 = port } }
        let server = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
        let serverTask = Task { try await server.run() }
        while bound.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
        let port = bound.withLock { $0 } ?? 0
        guard let url = ServerURL("ws://127.0.0.1:\(port)/gateway/v1") else { throw ValidationError("bad URL") }
        let queue = OutboundQueue(gateway: "gw-bench", epoch: 2, spool: spool)
        let uplink = Uplink(configuration: .init(url: url, token: token, gateway: "gw-bench", software: "bench"), queue: queue, logger: logger)
        let client = ServiceGroup(services: [uplink], gracefulShutdownSignals: [], logger: logger)
        let total = spool.depth
        let start = ContinuousClock.now
        let clientTask = Task { try await client.run() }
        var lastReport = start
        while spool.depth > 0 {
            try await Task.sleep(for: .milliseconds(50))
            if ContinuousClock.now - lastReport > .seconds(10) {
                lastReport = .now
                let done = total - spool.depth
                say("  … \(done) acknowledged after \((lastReport - start).formatted) (\(Int(Double(done) / (lastReport - start).seconds)) frames/s)")
            }
        }
        let elapsed = ContinuousClock.now - start
        say("replay: \(total) frames acknowledged in \(elapsed.formatted) = \(Int(Double(total) / elapsed.seconds)) frames/s")
        await client.triggerGracefulShutdown()
        try await clientTask.value
        await server.triggerGracefulShutdown()
        try await serverTask.value
    }
}

/// Realistic readings for the spool benchmark: a two-value sensor with units under a long,
/// udev-derived device id, about 180 bytes per `reading` message.
enum BenchReadings {
    static func encoder(device: Int) -> ReadingEncoder {
        ReadingEncoder(
            gateway: "gw-bench", device: "greenhouse-\(10 + device)", profile: "generic-csv-lines",
            fields: [("temperature", "°C"), ("humidity", "%")]
        )
    }

    static func timestamp(_ index: Int) -> Int64 { 1_795_753_200_000 + Int64(index) * 100 }

    static func values(_ index: Int) -> [WireValue?] {
        [.float(18 + Double(index % 97) / 10), .float(40 + Double(index % 53) / 10)]
    }

    /// Reading `index` of each device given, as device sessions hand them to the queue.
    static func batch(_ readings: [(ReadingEncoder, Int)]) -> ReadingBatch {
        var batch = ReadingBatch()
        for (encoder, index) in readings { batch.append(encoder: encoder, timestamp: timestamp(index), values: values(index)) }
        return batch
    }

    /// Reading `index`'s whole message.
    static func message(_ encoder: ReadingEncoder, _ index: Int, id: ReadingID) -> [UInt8] {
        encoder.encode(id: id, timestamp: timestamp(index), values: values(index))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var formatted: String { seconds >= 1 ? "\(Double(Int(seconds * 100)) / 100) s" : "\(Int(seconds * 1000)) ms" }
}

/// Prints a line at once (standard output to a file is block-buffered).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

enum Posix {
    @discardableResult
    static func run(_ command: String) -> Int32 { system(command) }

    /// Peak resident memory of this process (VmHWM), in MiB.
    static func peakRSSMegabytes() -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmHWM:") {
                return (Int(text.filter(\.isNumber)) ?? 0) / 1024
            }
        }
        return 0
    }
}
