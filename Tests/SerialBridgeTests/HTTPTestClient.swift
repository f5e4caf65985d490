import Foundation
import SerialBridgeJSON

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 answer as a test sees it.
struct HTTPAnswer: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String

    /// The body parsed as JSON (`.null` when it is not JSON, which a test then notices).
    var json: JSONNode { (try? JSONParser.parse(Array(body.utf8))) ?? .null }

    /// The value of a header (case-insensitive name).
    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// A minimal HTTP/1.1 client over a blocking socket to 127.0.0.1: one request per connection
/// (`Connection: close`), the answer read to EOF. Runs off the cooperative pool.
func http(_ method: String, port: Int, _ target: String, body: String? = nil) async throws -> HTTPAnswer {
    try await offThePool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TimedOut(what: "socket") }
        defer { close(fd) }
        // A generous bound so that a server that never answers fails the test instead of hanging it.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TimedOut(what: "connect to 127.0.0.1:\(port)") }
        var head = ["\(method) \(target) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Connection: close"]
        let payload = Array((body ?? "").utf8)
        if body != nil {
            head += ["Content-Type: application/json", "Content-Length: \(payload.count)"]
        }
        let request = Array((head.joined(separator: "\r\n") + "\r\n\r\n").utf8) + payload
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw TimedOut(what: "send") }
            sent += count
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { break }
            guard count > 0 else { throw TimedOut(what: "HTTP answer to \(method) \(target)") }
            answer += buffer[0..<count]
        }
        return try parseAnswer(answer)
    }
}

/// Splits status line, headers and body; de-chunks a chunked body.
private func parseAnswer(_ bytes: [UInt8]) throws -> HTTPAnswer {
    let separator = Array("\r\n\r\n".utf8)
    guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
        throw TimedOut(what: "a complete HTTP head")
    }
    let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
    let statusParts = lines.first?.split(separator: " ") ?? []
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw TimedOut(what: "an HTTP status line") }
    let headers = lines.dropFirst().compactMap { line -> (String, String)? in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    var body = Array(bytes[(end + 4)...])
    if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }) {
        var plain: [UInt8] = []
        var rest = body[...]
        while let lineEnd = rest.indices.first(where: { rest[$0...].starts(with: Array("\r\n".utf8)) }),
              let size = Int(String(decoding: rest[..<lineEnd], as: UTF8.self), radix: 16), size > 0 {
            let start = lineEnd + 2
            plain += rest[start..<min(start + size, rest.endIndex)]
            rest = rest[min(start + size + 2, rest.endIndex)...]
        }
        body = plain
    }
    return HTTPAnswer(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
}
