import SerialBridgeJSON

/// Where the gateway serves `GET /metrics` and `GET /healthz`: the config's `metrics.listen`,
/// `"HOST:PORT"` (`"[IPv6]:PORT"` for an IPv6 address). Port 0 picks a free port.
public struct MetricsListen: Sendable, Hashable, CustomStringConvertible {
    /// Host name or address to bind.
    public var host: String
    /// TCP port; 0 picks a free one.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Loopback only (metrics say much about the site), on port 9464, the usual Prometheus exporter port.
    public static let `default` = MetricsListen(host: "127.0.0.1", port: 9464)

    /// `HOST:PORT`, with brackets around an IPv6 address.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`; nil when `text` is neither.
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
            guard host.contains(":") else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }  // an IPv6 address needs its brackets
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "[" || $0 == "]" }),
              portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65_535).contains(port)
        else { return nil }
        self.init(host: String(host), port: port)
    }

    /// Reads the `metrics` object: absent means the default; `"listen": null` or `false` turns the
    /// endpoint off. Mistakes are reported on `root`.
    static func read(_ root: inout JSONObjectReader) -> MetricsListen? {
        guard var metrics = root.object("metrics") else { return .default }
        defer { root.absorb(metrics) }
        switch metrics.value("listen") {
        case nil:
            return .default
        case .null?, .bool(false)?:
            return nil
        case .string(let text)?:
            guard let listen = MetricsListen(parsing: text) else {
                metrics.fail(key: "listen", "must be \"HOST:PORT\" such as \"127.0.0.1:9464\" (\"[::1]:9464\" for IPv6, port 0 to 65535), or null or false to turn the endpoint off, not \"\(text)\"")
                return nil
            }
            return listen
        case let other?:
            metrics.fail(key: "listen", "must be \"HOST:PORT\" such as \"127.0.0.1:9464\", or null or false to turn the endpoint off, not \(other.typeName)")
            return nil
        }
    }
}
