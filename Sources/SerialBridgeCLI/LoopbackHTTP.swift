#if canImport(Glibc)
import Glibc
#endif

/// A tiny blocking HTTP/1.1 GET for `serialbridge status`: the gateway's status endpoint is on
/// loopback and answers in microseconds, so a plain socket with timeouts is all it takes (and
/// keeps the CLI free of an HTTP client stack).
enum LoopbackHTTP {
    /// Why a request got no usable answer.
    enum Failure: Error, CustomStringConvertible {
        /// Nothing listens there (or it cannot be reached): the gateway is not running.
        case notRunning(String)
        /// Something answered, but not as the gateway would.
        case badAnswer(String)

        var description: String {
            switch self {
            case .notRunning(let why), .badAnswer(let why): why
            }
        }
    }

    /// An answer: status code and body.
    struct Reply {
        var status: Int
        var body: [UInt8]
    }

    /// `GET path` from `host:port`, waiting at most `timeoutSeconds` for each step.
    static func get(host: String, port: Int, path: String, timeoutSeconds: Int = 5) throws(Failure) -> Reply {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, "\(port)", &hints, &list)
        guard resolved == 0, let first = list else {
            throw .notRunning("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            // On Linux the send timeout bounds connect() too.
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host.contains(":") ? "[\(host)]" : host):\(port)\r\nAccept: application/json\r\nConnection: close\r\n\r\n".utf8)
            guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
                throw .badAnswer("cannot send the request: \(String(cString: strerror(errno)))")
            }
            var answer: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count == 0 { break }
                guard count > 0 else { throw .badAnswer("reading the answer: \(String(cString: strerror(errno)))") }
                answer += buffer[0..<count]
                guard answer.count <= 64 << 20 else { throw .badAnswer("the answer is over 64 MiB") }
            }
            return try parse(answer)
        }
        throw .notRunning(lastError)
    }

    /// Splits an HTTP/1.1 response read to its end: status line, headers, body (by
    /// Content-Length, chunked, or to the end).
    static func parse(_ bytes: [UInt8]) throws(Failure) -> Reply {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<($0 + 4)].elementsEqual(separator) }) else {
            throw .badAnswer("not an HTTP answer")
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusWords = head.first?.split(separator: " ") ?? []
        guard statusWords.count >= 2, statusWords[0].hasPrefix("HTTP/1."), let status = Int(statusWords[1]) else {
            throw .badAnswer("not an HTTP answer")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmedOfBlanks
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = try dechunk(body)
        } else if let length = headers["content-length"].flatMap({ Int($0) }), length <= body.count {
            body = Array(body[..<length])
        }
        return Reply(status: status, body: body)
    }

    static func dechunk(_ bytes: [UInt8]) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].indices.dropLast().first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
                  let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16)
            else { throw .badAnswer("a broken chunked body") }
            if size == 0 { return output }
            let start = lineEnd + 2
            guard start + size <= bytes.count else { throw .badAnswer("a truncated chunked body") }
            output += bytes[start..<(start + size)]
            index = start + size + 2
        }
        return output
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var trimmedOfBlanks: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
