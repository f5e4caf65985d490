import Foundation
import Logging
import Synchronization
import Testing

/// Paths inside the repository, found from this file so tests run from any directory.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var profiles: String { root.appendingPathComponent("DeviceProfiles").path }
    static var vectors: URL { root.appendingPathComponent("Tests/SerialBridgeTests/Vectors") }
}

/// A temporary directory removed when the test is done with it.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sbtest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Waits until `condition` holds, polling, failing after a generous deadline. Tests wait on events
/// this way; nothing in the suite sleeps a fixed time and then asserts.
func eventually(
    _ what: String, timeout: Duration = .seconds(60), logs: LogCapture? = nil,
    _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    // What the parts said last is usually why.
    let tail = logs.map { "\nlast log lines:\n" + $0.messages.suffix(60).joined(separator: "\n") } ?? ""
    Issue.record("timed out after \(timeout) waiting for: \(what)\(tail)")
    throw TimedOut(what: what)
}

struct TimedOut: Error { let what: String }

/// Collects log messages so tests can assert on what an operator would read.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var messages: [String] { lines.withLock { $0 } }

    func count(containing text: String) -> Int { lines.withLock { $0.filter { $0.contains(text) }.count } }

    func logger(_ label: String = "test") -> Logger {
        Logger(label: label) { _ in CaptureHandler(capture: self) }
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }
}

private struct CaptureHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        capture.append("\(event.level) \(event.message)")
    }
}

/// Bytes from a vector file: hex digits, `#` comments and white space ignored.
func vectorBytes(_ name: String) throws -> [UInt8] {
    let text = try String(contentsOf: Repository.vectors.appendingPathComponent("\(name).hex"), encoding: .utf8)
    let digits = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined().filter { !$0.isWhitespace }
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        guard let byte = UInt8(digits[index..<next], radix: 16) else { throw TimedOut(what: "bad hex in \(name)") }
        bytes.append(byte)
        index = next
    }
    return bytes
}

/// Runs blocking work (a child process read to its end, a blocking socket) on a thread of its own.
///
/// Swift's cooperative pool has one thread per core (two here); a test that blocks one while the
/// in-process server it waits for needs the pool can deadlock with another test doing the same.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try body() })
        }.start()
    }
}
