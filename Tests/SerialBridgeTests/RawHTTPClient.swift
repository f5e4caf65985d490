import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection to 127.0.0.1 for speaking HTTP by hand (FoundationNetworking may be
/// missing, and tests need to see exactly what the server answers). Call it through `offThePool`.
/// Used by one thread at a time: a test hands it from one `offThePool` call to the next, never to
/// two at once, so the unsynchronised buffer is never shared.
final class RawConnection: @unchecked Sendable {
    private let fd: Int32
    private(set) var received: [UInt8] = []
    /// How the last read ended, for failure messages.
    private(set) var lastEnd = ""

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TimedOut(what: "socket") }
        // A server that never answers fails the test instead of hanging it.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // deinit closes the descriptor, also when this initializer throws.
        guard connected == 0 else { throw TimedOut(what: "connect to 127.0.0.1:\(port)") }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            offset += count
        }
    }

    /// Reads more bytes; false at end of stream or timeout.
    @discardableResult
    func receiveMore() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &buffer, buffer.count, 0)
        lastEnd = count == 0 ? "end of stream" : "recv failed: \(String(cString: strerror(errno)))"
        guard count > 0 else { return false }
        received.append(contentsOf: buffer.prefix(count))
        return true
    }

    /// Reads until the end of the HTTP head; returns the head's lines and drops them from `received`.
    func readHead() throws -> [String] {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let range = received.firstRange(of: separator) {
                let head = String(decoding: received[..<range.lowerBound], as: UTF8.self)
                received.removeSubrange(..<range.upperBound)
                return head.components(separatedBy: "\r\n")
            }
            guard receiveMore() else { throw TimedOut(what: "an HTTP response head") }
        }
    }

    /// Drops the first `count` received bytes (a frame already parsed).
    func consume(_ count: Int) {
        received.removeFirst(count)
    }

    /// Reads until the peer closes.
    func readToEnd() {
        while receiveMore() {}
    }
}

/// An HTTP response read off the wire.
struct RawReply {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String

    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    /// The `sb_session` cookie's value from `Set-Cookie`, if any.
    var sessionCookie: String? {
        guard let line = headers.first(where: { $0.name.lowercased() == "set-cookie" && $0.value.hasPrefix("sb_session=") })?.value else { return nil }
        return String(line.dropFirst("sb_session=".count).prefix { $0 != ";" })
    }

    init(head: [String], body: [UInt8]) throws {
        let statusWords = (head.first ?? "").split(separator: " ")
        guard statusWords.count >= 2, let code = Int(statusWords[1]) else { throw TimedOut(what: "a status line, got \(head.first ?? "nothing")") }
        status = code
        headers = head.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var bytes = body
        if headers.contains(where: { $0.name.lowercased() == "transfer-encoding" && $0.value.lowercased().contains("chunked") }) {
            bytes = RawReply.dechunk(body)
        }
        self.body = String(decoding: bytes, as: UTF8.self)
    }

    static func dechunk(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var rest = data[...]
        while let lineEnd = rest.firstRange(of: Array("\r\n".utf8)) {
            guard let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self), radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            guard rest.endIndex - start >= size else { break }
            out.append(contentsOf: rest[start..<(start + size)])
            rest = rest[min(rest.endIndex, start + size + 2)...]
        }
        return out
    }
}

/// Sends one HTTP/1.1 request (`Connection: close`) to 127.0.0.1 and reads the whole response.
/// `Host: 127.0.0.1:PORT` is sent unless `headers` has a Host line.
func rawHTTP(port: Int, _ method: String, _ path: String, headers: [String] = [], body: String? = nil) throws -> RawReply {
    let connection = try RawConnection(port: port)
    var lines = ["\(method) \(path) HTTP/1.1"]
    if !headers.contains(where: { $0.lowercased().hasPrefix("host:") }) { lines.append("Host: 127.0.0.1:\(port)") }
    lines += headers + ["Connection: close"]
    if let body { lines.append("Content-Length: \(body.utf8.count)") }
    connection.send(lines.joined(separator: "\r\n") + "\r\n\r\n" + (body ?? ""))
    let head = try connection.readHead()
    connection.readToEnd()
    return try RawReply(head: head, body: connection.received)
}

/// Sends a WebSocket upgrade request for `path`; returns the status line and the connection, still
/// open (after a 101 it carries WebSocket frames).
func rawUpgrade(port: Int, path: String, headers: [String]) throws -> (status: String, connection: RawConnection) {
    let connection = try RawConnection(port: port)
    var lines = ["GET \(path) HTTP/1.1"]
    if !headers.contains(where: { $0.lowercased().hasPrefix("host:") }) { lines.append("Host: 127.0.0.1:\(port)") }
    lines += ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="] + headers
    connection.send(lines.joined(separator: "\r\n") + "\r\n\r\n")
    let head = try connection.readHead()
    return (head.first ?? "", connection)
}

extension RawConnection {
    /// Reads server frames (unmasked) until a close frame; returns its status code, nil if the
    /// stream ended first.
    func readCloseCode() -> UInt16? {
        while true {
            if received.count >= 2 {
                let opcode = received[0] & 0x0F
                var length = Int(received[1] & 0x7F)
                var headerLength = 2
                if length == 126, received.count >= 4 {
                    length = Int(received[2]) << 8 | Int(received[3])
                    headerLength = 4
                } else if length == 127 {
                    return nil  // the server sends no such frames here
                }
                if received.count >= headerLength + length && !(length == 126 && headerLength == 2) {
                    let payload = Array(received[headerLength..<(headerLength + length)])
                    received.removeFirst(headerLength + length)
                    if opcode == 0x8 { return payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 1005 }
                    continue
                }
            }
            guard receiveMore() else { return nil }
        }
    }
}
