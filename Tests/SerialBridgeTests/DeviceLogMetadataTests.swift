import Foundation
import Logging
import SerialBridgeGateway
import SerialBridgeProfiles
import SerialBridgeSerial
import SerialBridgeSpool
import SerialBridgeUplink
import Synchronization
import Testing

/// Log events with their effective metadata (the logger's merged with the event's).
final class MetadataCapture: Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }

    func logger() -> Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    fileprivate func append(_ line: Line) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let capture: MetadataCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            capture.append(Line(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
        }
    }
}

@Suite("Every log line about a device carries its id", .serialized)
struct DeviceLogMetadataTests {
    func queue(in directory: TemporaryDirectory) throws -> OutboundQueue {
        let spool = try Spool.open(directory: directory.file("spool"), configuration: SpoolConfiguration(automaticCommit: false), logger: Logger(label: "test"))
        return OutboundQueue(gateway: "g", epoch: 1, spool: spool)
    }

    func profile(_ name: String) throws -> DeviceProfile {
        try ProfileLoader.load(file: Repository.profiles + "/\(name).json")
    }

    @Test func aStreamingSessionNamesItsDevice() async throws {
        let directory = try TemporaryDirectory()
        let capture = MetadataCapture()
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let session = DeviceSession(device: "kitchen", path: terminal.slavePath, profile: try profile("generic-csv-lines"), queue: try queue(in: directory), logger: capture.logger())
        let other = try TemporaryDirectory()
        let missing = DeviceSession(device: "cellar", path: directory.file("no-tty"), profile: try profile("generic-csv-lines"), queue: try queue(in: other), logger: capture.logger())
        let tasks = [Task { await session.run() }, Task { await missing.run() }]
        try await eventually("both sessions logged") {
            capture.all.contains { $0.message.hasPrefix("opened") } && capture.all.contains { $0.message.hasSuffix("retrying") }
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        withExtendedLifetime((directory, other)) {}
        let lines = capture.all
        #expect(lines.first { $0.message.hasPrefix("opened") }?.metadata["device"] == "kitchen")
        #expect(lines.first { $0.message.hasSuffix("retrying") }?.metadata["device"] == "cellar")
        for line in lines { #expect(line.metadata["device"] != nil, "\(line.message)") }
    }

    @Test func aBusNamesItsDevicesAndEachMemberLineItsOwn() async throws {
        let directory = try TemporaryDirectory()
        let capture = MetadataCapture()
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let meter = try profile("eastron-sdm120")
        // Nobody answers on the pty: each meter is reported as not answering.
        let bus = BusSession(
            path: terminal.slavePath, members: [.init(device: "meter-1", profile: meter, unit: 1), .init(device: "meter-2", profile: meter, unit: 2)],
            queue: try queue(in: directory), logger: capture.logger()
        )
        let other = try TemporaryDirectory()
        let single = BusSession(path: directory.file("no-tty"), members: [.init(device: "meter-9", profile: meter, unit: 9)], queue: try queue(in: other), logger: capture.logger())
        let tasks = [Task { await bus.run() }, Task { await single.run() }]
        try await eventually("both meters reported as not answering, and the missing port") {
            let lines = capture.all
            return ["meter-1", "meter-2"].allSatisfy { id in lines.contains { $0.message.hasPrefix("\(id) ") && $0.level == .warning } }
                && lines.contains { $0.message.hasSuffix("retrying") }
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        withExtendedLifetime((directory, other)) {}
        let lines = capture.all
        for id in ["meter-1", "meter-2"] {
            let line = try #require(lines.first { $0.message.hasPrefix("\(id) ") && $0.level == .warning })
            #expect(line.metadata["device"] == id, "\(line.message)")
            #expect(line.metadata["devices"] == "meter-1,meter-2")
        }
        #expect(lines.first { $0.message.hasPrefix("opened") }?.metadata["devices"] == "meter-1,meter-2")
        #expect(lines.first { $0.message.hasSuffix("retrying") }?.metadata["device"] == "meter-9")
        for line in lines { #expect(line.metadata["device"] != nil || line.metadata["devices"] != nil, "\(line.message)") }
    }
}
