#if canImport(Glibc)
import Glibc
#endif

/// One scrape of a Prometheus text endpoint: every sample by its series (`name{labels}` as written).
struct MetricsScrape: Sendable {
    private let samples: [String: Double]

    /// Parses the text format: `name{label="value",…} number` lines; comments and blank lines skipped.
    init(text: String) {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        self.samples = samples
    }

    /// The sample of `name` whose labels include every one of `labels` (nil: absent).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        matching(name, labels).first
    }

    /// The sum of the samples of `name` whose labels include every one of `labels` (0 when absent).
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        matching(name, labels).reduce(0, +)
    }

    private func matching(_ name: String, _ labels: [String: String]) -> [Double] {
        let wanted = labels.map { "\($0.key)=\"\($0.value)\"" }
        return samples.compactMap { series, value in
            guard series == name || series.hasPrefix(name + "{") else { return nil }
            return wanted.allSatisfy { series.contains($0) } ? value : nil
        }
    }

    /// `GET path` from 127.0.0.1:`port` (HTTP/1.1, connection closed after the answer); nil when the
    /// endpoint does not answer 200 within `timeout` seconds.
    static func fetch(port: Int, path: String = "/metrics", timeout: Int = 2) -> MetricsScrape? {
        guard let body = httpGet(port: port, path: path, timeout: timeout) else { return nil }
        return MetricsScrape(text: body)
    }

    /// A minimal blocking HTTP GET on loopback: the gateway's and server's endpoints are local, and a
    /// scrape must not depend on the event loops it observes.
    static func httpGet(port: Int, path: String, timeout seconds: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            response += buffer[0..<count]
        }
        return body(of: response)
    }

    /// The body of a 200 answer, chunked transfer encoding undone; nil for any other status.
    static func body(of response: [UInt8]) -> String? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard response.starts(with: Array("HTTP/1.1 200".utf8)),
              let split = (0...max(0, response.count - 4)).first(where: { response[$0..<min(response.count, $0 + 4)].elementsEqual(separator) })
        else { return nil }
        let headers = String(decoding: response[..<split], as: UTF8.self).lowercased()
        var rest = response[(split + 4)...]
        guard headers.contains("transfer-encoding: chunked") else { return String(decoding: rest, as: UTF8.self) }
        // Chunks: a hex size line, the bytes, CRLF; a zero size ends the body.
        var body: [UInt8] = []
        while let lineEnd = rest.firstIndex(of: 13), let size = Int(String(decoding: rest[rest.startIndex..<lineEnd], as: UTF8.self), radix: 16), size > 0 {
            let start = lineEnd + 2
            guard start + size <= rest.endIndex else { return nil }
            body += rest[start..<(start + size)]
            rest = rest[min(rest.endIndex, start + size + 2)...]
        }
        return String(decoding: body, as: UTF8.self)
    }
}
