import ArgumentParser
import CoreMetrics
import Logging
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeLogging
import SerialBridgeParsing
import SerialBridgeProtocol
import SerialBridgeProfiles
import SerialBridgeSimulator
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

@main
struct SerialBridge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serialbridge",
        abstract: "Serial devices to a WebSocket server: the SerialBridge gateway and its tools.",
        version: Gateway.softwareVersion,
        subcommands: [
            Run.self, Simulate.self, Profiles.self, Devices.self, SpoolCommand.self, StatusCommand.self, ConfigCommand.self,
        ]
    )
}

/// Logs to standard error: level and format from the flags, then the environment, then the
/// config (docs/LOGGING.md). A bad name ends the program with status 2.
func bootstrapLogging(
    level: String?, format: String?, environment: [String: String], config: GatewayConfig? = nil
) throws {
    do {
        try LoggingSetup.resolve(
            levelFlag: level, formatFlag: format, environment: environment,
            configLevel: config?.logLevel, configFormat: config?.logFormat
        ).bootstrap()
    } catch {
        FileHandleOutput.standardError("\(error)\n")
        throw ExitCode(2)
    }
}

/// Config errors found before logging is set up: plain lines at a terminal (as `config check`
/// prints them), but through the log format when it is journald or JSON, so that the journal
/// files them as critical and a log shipper still gets one JSON object per line.
func reportConfigErrors(_ lines: [String], format: String?, environment: [String: String]) {
    let setup = try? LoggingSetup.resolve(levelFlag: nil, formatFlag: format, environment: environment)
    guard let setup, setup.format != .text else {
        FileHandleOutput.standardError(lines.map { $0 + "\n" }.joined())
        return
    }
    let handler = LineLogHandler(label: "serialbridge", format: setup.format, level: .critical)
    for line in lines {
        handler.log(event: LogEvent(level: .critical, message: "\(line)", metadata: nil, source: "serialbridge", file: #fileID, function: #function, line: #line))
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway (see docs/CONFIG.md).")

    @Option(name: .long, help: "Gateway config file; SERIALBRIDGE_* environment variables override it (docs/CONFIG.md).")
    var config: String = GatewayConfig.defaultFile

    @Option(name: .long, help: "Override the config's log level (trace, debug, info, notice, warning, error, critical).")
    var logLevel: String?

    @Option(name: .long, help: "Log format: auto (journald under systemd, text otherwise), text, journald, json.")
    var logFormat: String?

    func run() async throws {
        let environment = ProcessEnvironment.current()
        let loaded: GatewayConfig
        do {
            loaded = try GatewayConfig.load(file: config, environment: environment)
        } catch {
            reportConfigErrors(error.errors.map(\.description), format: logFormat, environment: environment)
            throw ExitCode(2)
        }
        try bootstrapLogging(level: logLevel, format: logFormat, environment: environment, config: loaded)
        let logger = Logger(label: "serialbridge")
        let gateway: Gateway
        do {
            gateway = try Gateway(config: loaded, logger: logger) { environment[$0] }
        } catch {
            for problem in error.problems { logger.critical("\(problem)") }
            throw ExitCode(2)
        }
        // One gateway per process here: whatever a library reports through swift-metrics is served
        // on the gateway's own endpoint too.
        MetricsSystem.bootstrap(gateway.metrics.factory)
        try await gateway.serviceGroup().run()
        logger.info("gateway stopped")
    }
}

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a profile as a virtual device on a pseudo-terminal until stopped."
    )

    @Argument(help: "Profile JSON file.")
    var profile: String

    @Option(name: .long, help: "Make this path a symlink to the device's tty.")
    var link: String

    @Option(name: .long, help: "Outputs per second.")
    var rate: Double = 1

    @Option(name: .long, help: "Random seed, for a reproducible device.")
    var seed: UInt64 = 0x5EED

    @Option(name: .long, help: "Stop after this many outputs.")
    var count: Int?

    @Option(name: .long, help: "Simulate this many devices, linked at PATH-0, PATH-1, … (one process, one task each).")
    var devices = 1

    @Option(name: .long, help: "Modbus profiles: answer for these unit ids on the one line, e.g. 1,2,3 (default: the profile's).")
    var units: String?

    var unitIds: Set<UInt8> {
        Set((units ?? "").split(separator: ",").compactMap { UInt8($0.filter { $0 != " " }) })
    }

    func validate() throws {
        guard rate > 0, rate <= 1_000_000 else { throw ValidationError("--rate must be between 0 and 1000000") }
        guard (1...1024).contains(devices) else { throw ValidationError("--devices must be from 1 to 1024") }
        if let units, unitIds.count != units.split(separator: ",").count || unitIds.contains(where: { $0 == 0 || $0 > 247 }) {
            throw ValidationError("--units must be unit ids from 1 to 247 separated by commas, not \"\(units)\"")
        }
    }

    func run() async throws {
        try bootstrapLogging(level: nil, format: nil, environment: ProcessEnvironment.current())
        let logger = Logger(label: "serialbridge.simulate")
        let loaded: DeviceProfile
        do {
            loaded = try ProfileLoader.load(file: profile)
        } catch {
            FileHandleOutput.standardError("\(error)\n")
            throw ExitCode(2)
        }
        let links = devices == 1 ? [link] : (0..<devices).map { "\(link)-\($0)" }
        var runners: [SimulatorRunner] = []
        defer {
            for (runner, path) in zip(runners, links) {
                unlink(path)
                runner.terminal.close()
            }
        }
        do {
            for (index, path) in links.enumerated() {
                runners.append(try SimulatorRunner(profile: loaded, rate: rate, link: path, seed: seed &+ UInt64(index), units: unitIds))
            }
        } catch {
            FileHandleOutput.standardError("error: \(error)\n")
            throw ExitCode(1)
        }
        for (runner, path) in zip(runners, links) {
            let pace = runner.answersRequests ? "answering requests" : "at \(rate)/s"
            logger.info("simulating \(loaded.name) on \(runner.terminal.slavePath) (link \(path)) \(pace)")
        }
        let services = runners.map { SimulatorService(runner: $0, count: count) as any Service }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

struct SimulatorService: Service {
    let runner: SimulatorRunner
    let count: Int?

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            _ = try await runner.run(limit: count)
            // With --count, keep the device (and its buffered output) until stopped.
            while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}

struct Profiles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with device profiles.",
        subcommands: [Check.self, TestProfile.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate profile files or folders; prints FILE: JSON-PATH: message per error."
        )

        @Argument(help: "Profile files or folders (default: DeviceProfiles).")
        var paths: [String] = []

        func run() async throws {
            let targets = paths.isEmpty ? ["DeviceProfiles"] : paths
            var errors: [ConfigError] = []
            let files = ProfileLibrary.profileFiles(in: targets, errors: &errors)
            var good = 0
            for file in files {
                do {
                    _ = try ProfileLoader.load(file: file)
                    good += 1
                } catch {
                    errors.append(contentsOf: error.errors)
                }
            }
            for error in errors { print(error) }
            FileHandleOutput.standardError("\(good) of \(files.count) profiles valid\n")
            if !errors.isEmpty { throw ExitCode(1) }
        }
    }
}

struct TestProfile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Replay a capture through a profile: one JSON line per reading or rejected frame."
    )

    @Argument(help: "Profile JSON file.")
    var profile: String

    @Option(name: .long, help: "Capture file: raw bytes, or the timestamped format of `devices capture`.")
    var input: String

    func run() async throws {
        let loaded: DeviceProfile
        do {
            loaded = try ProfileLoader.load(file: profile)
        } catch {
            for line in error.errors { print(line) }
            throw ExitCode(1)
        }
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(input, limit: 1 << 30)
        } catch {
            FileHandleOutput.standardError("\(input): \(error)\n")
            throw ExitCode(1)
        }
        let records: [CaptureFormat.Record]
        if CaptureFormat.isTimestamped(bytes) {
            switch CaptureFormat.records(bytes) {
            case .success(let decoded): records = decoded
            case .failure(let failure):
                FileHandleOutput.standardError("\(input): \(failure)\n")
                throw ExitCode(1)
            }
        } else {
            records = [CaptureFormat.Record(time: 0, bytes: bytes)]
        }
        var output: [UInt8] = []
        let counters = ProfileReplay.replay(records, spec: loaded.parsing) { line in
            output.append(contentsOf: line)
            output.append(0x0A)
            if output.count > 1 << 16 { FileHandleOutput.write(1, &output) }
        }
        FileHandleOutput.write(1, &output)
        FileHandleOutput.standardError(
            "\(counters.readings) readings, \(counters.framingErrors) framing errors, \(counters.checksumErrors) checksum errors, \(counters.decodeErrors) decode errors, \(counters.framer.bytes) bytes\n"
        )
    }
}

/// Writes to standard output and error without Foundation.
enum FileHandleOutput {
    /// Writes and empties `buffer`.
    static func write(_ descriptor: Int32, _ buffer: inout [UInt8]) {
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count, let base = raw.baseAddress {
                let written = Glibc.write(descriptor, base + offset, raw.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    static func standardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
