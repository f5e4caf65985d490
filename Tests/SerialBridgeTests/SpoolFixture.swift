import Foundation
import Logging
import SerialBridgeProtocol
import SerialBridgeSpool

/// A spool in a test's own folder, with commits driven by the test unless it asks otherwise.
struct SpoolFixture {
    let directory: TemporaryDirectory
    let logs = LogCapture()
    var path: String { directory.file("spool") }

    init() throws { directory = try TemporaryDirectory() }

    static let manual = SpoolConfiguration(automaticCommit: false)

    func open(_ configuration: SpoolConfiguration = manual, io: SpoolIO = .posix) throws -> Spool {
        try Spool.open(directory: path, configuration: configuration, io: io, lockPatience: .milliseconds(100), logger: logs.logger("spool"))
    }

    /// A frame whose payload names its identity, padded to `size` bytes.
    static func frame(_ epoch: Int64, _ sequence: Int64, size: Int = 64, timestamp: Int64 = 1_000) -> SpoolFrame {
        var payload = Array("frame \(epoch)/\(sequence) ".utf8)
        payload += repeatElement(UInt8(ascii: "x"), count: max(0, size - payload.count))
        return SpoolFrame(id: ReadingID(epoch: epoch, sequence: sequence), timestamp: timestamp, payload: payload)
    }

    static func frames(_ epoch: Int64, _ sequences: ClosedRange<Int64>, size: Int = 64) -> [SpoolFrame] {
        sequences.map { frame(epoch, $0, size: size) }
    }

    /// Everything the sender can read now, in batches of `batch`.
    static func readAll(_ spool: Spool, batch: Int = 7) -> [SpoolFrame] {
        var all: [SpoolFrame] = []
        while true {
            let frames = spool.read(limit: batch)
            if frames.isEmpty { return all }
            all += frames.frames
        }
    }

    /// Identities of `frames`, or a note naming the first frame whose payload is not the one
    /// ``frame(_:_:size:timestamp:)`` makes (so failures print identities, not bytes).
    static func ids(_ frames: [SpoolFrame], size: Int = 64) -> [String] {
        frames.map { frame in
            frame.payload == Self.frame(frame.id.epoch, frame.id.sequence, size: size).payload ? "\(frame.id)" : "\(frame.id) (wrong payload)"
        }
    }

    static func ids(_ epoch: Int64, _ sequences: ClosedRange<Int64>) -> [String] { sequences.map { "\(epoch)/\($0)" } }

    var segmentFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
    }

    func files(containing text: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.contains(text) }.sorted()
    }
}
