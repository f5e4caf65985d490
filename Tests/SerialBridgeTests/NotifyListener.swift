import Foundation
import Testing
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The test's stand-in for systemd's notify socket: an AF_UNIX datagram socket bound to a path in
/// a temporary directory (or to an abstract name), collecting every `sd_notify` message sent to it.
final class NotifyListener: Sendable {
    /// What to put in `NOTIFY_SOCKET`.
    let address: String
    private let descriptor: Int32
    private let path: String?
    private let received = Mutex<[String]>([])

    /// Binds `DIRECTORY/notify.sock`, or the abstract name `@NAME` when `abstract` is given.
    init(directory: TemporaryDirectory, abstract: String? = nil) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TimedOut(what: "a datagram socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes: [UInt8]
        if let abstract {
            bytes = [0] + Array(abstract.utf8)
            self.address = "@" + abstract
            path = nil
        } else {
            let file = directory.file("notify.sock")
            bytes = Array(file.utf8)
            self.address = file
            path = file
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract == nil ? 1 : 0))
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0 else {
            close(descriptor)
            throw TimedOut(what: "binding the notify socket: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }

    /// Every message received so far, in order.
    var messages: [String] {
        received.withLock { received in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard count > 0 else { break }
                received.append(String(decoding: buffer[0..<count], as: UTF8.self))
            }
            return received
        }
    }

    /// Messages that carry the assignment `line` (e.g. "WATCHDOG=1").
    func count(_ line: String) -> Int {
        messages.filter { $0.split(separator: "\n").contains(Substring(line)) }.count
    }

    /// The first message at or after `index` that carries `line`, and its index.
    func first(_ line: String, from index: Int = 0) -> (index: Int, message: String)? {
        let all = messages
        guard index < all.count else { return nil }
        for position in index..<all.count where all[position].split(separator: "\n").contains(Substring(line)) {
            return (position, all[position])
        }
        return nil
    }

    /// Waits for a message carrying `line` at or after `index`.
    @discardableResult
    func wait(for line: String, from index: Int = 0, timeout: Duration = .seconds(60), logs: LogCapture? = nil) async throws -> (index: Int, message: String) {
        try await eventually("a notify message with \(line)", timeout: timeout, logs: logs) { self.first(line, from: index) != nil }
        return try #require(first(line, from: index))
    }
}

/// The `STATUS=` text of a message, if it has one.
func statusText(_ message: String) -> String? {
    message.split(separator: "\n").first { $0.hasPrefix("STATUS=") }.map { String($0.dropFirst(7)) }
}
