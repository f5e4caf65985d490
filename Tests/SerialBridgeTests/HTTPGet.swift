import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP answer read off a socket.
struct HTTPAnswer: Sendable {
    /// The status line, e.g. `HTTP/1.1 200 OK`.
    var status: String
    /// Header lines, names lower-cased.
    var headers: [String: String]
    /// The body as text.
    var body: String
}

/// `GET path` on 127.0.0.1:`port` over a plain blocking socket (run it through ``offThePool``),
/// with `Connection: close`, reading the body by its Content-Length or to the end.
func httpGet(port: Int, path: String) throws -> HTTPAnswer {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TimedOut(what: "socket") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TimedOut(what: "connect to port \(port)") }
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    var headerEnd: Int?
    var contentLength: Int?
    var headers: [String: String] = [:]
    var status = ""
    while true {
        if let headerEnd, let contentLength, received.count - headerEnd >= contentLength { break }
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received += buffer.prefix(count)
        if headerEnd == nil, let end = received.firstRange(of: Array("\r\n\r\n".utf8)) {
            headerEnd = end.upperBound
            let lines = String(decoding: received[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
            status = lines.first ?? ""
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            contentLength = headers["content-length"].flatMap { Int($0) }
        }
    }
    guard let headerEnd else { throw TimedOut(what: "an HTTP answer from port \(port)") }
    return HTTPAnswer(status: status, headers: headers, body: String(decoding: received[headerEnd...], as: UTF8.self))
}

/// The value of a sample line `name{labels} value` in Prometheus text, or nil when absent.
func metricValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}
