/// A parsed `ws://` or `wss://` server URL.
public struct ServerURL: Sendable, Hashable, CustomStringConvertible {
    /// True for `wss://`.
    public var secure: Bool
    /// Host name or address.
    public var host: String
    /// TCP port (default 80 or 443).
    public var port: Int
    /// Path, e.g. `/gateway/v1`.
    public var path: String

    /// Parses `text`; nil when it is not a ws:// or wss:// URL with a host.
    public init?(_ text: String) {
        let rest: Substring
        if text.hasPrefix("ws://") {
            secure = false
            rest = text.dropFirst(5)
        } else if text.hasPrefix("wss://") {
            secure = true
            rest = text.dropFirst(6)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else { return nil }
                port = value
            } else {
                port = secure ? 443 : 80
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else { return nil }
            port = value
        } else {
            host = String(authority)
            port = secure ? 443 : 80
        }
        guard !host.isEmpty else { return nil }
    }

    /// The URL as text.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(secure ? "wss" : "ws")://\(hostPart):\(port)\(path)"
    }

    /// The auth-check endpoint beside the WebSocket path: `<path>/auth`.
    public var authPath: String { path.hasSuffix("/") ? path + "auth" : path + "/auth" }
}
