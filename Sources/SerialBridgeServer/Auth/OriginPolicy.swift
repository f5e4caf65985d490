/// Which web pages may open the dashboard's WebSocket and send it cookie-authenticated writes: the
/// check of Node's `ws` `verifyClient` hook. A browser always sends `Origin` on a WebSocket
/// handshake and on cross-origin POSTs; without this check any site a logged-in person visits
/// could open `/live` with their cookie (cross-site WebSocket hijacking).
///
/// Allowed: the same origin (the `Origin`'s host and port equal the request's `Host`), and every
/// `--allowed-origin URL`.
public struct OriginPolicy: Sendable {
    /// An origin reduced to what is compared.
    struct Origin: Hashable, Sendable, CustomStringConvertible {
        var scheme: String
        var host: String
        var port: Int
        var description: String { "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
    }

    let allowed: Set<Origin>

    /// Creates a policy.
    /// - Parameter allowedOrigins: URLs such as `https://dashboard.example.org` or
    ///   `http://localhost:3000`, beyond the same origin.
    /// - Throws: ``ServerConfigError`` for one that is not `http(s)://HOST[:PORT]`.
    public init(allowedOrigins: [String] = []) throws(ServerConfigError) {
        var allowed: Set<Origin> = []
        for text in allowedOrigins {
            let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
            guard let origin = Self.origin(trimmed) else {
                throw ServerConfigError("--allowed-origin \(text): expected http://HOST[:PORT] or https://HOST[:PORT], without a path")
            }
            allowed.insert(origin)
        }
        self.allowed = allowed
    }

    /// The outcome of checking a request's `Origin`.
    public enum Verdict: Sendable, Equatable {
        /// Same host and port as the request's `Host`.
        case sameOrigin
        /// Listed with `--allowed-origin`.
        case allowlisted
        /// No `Origin` header: not a browser (browsers always send it on WebSockets).
        case missing
        /// Any other origin, with why.
        case refused(String)
    }

    /// Checks an `Origin` header against the allowlist and the request's `Host`.
    public func check(origin: String?, host: String?) -> Verdict {
        guard let origin else { return .missing }
        guard let parsed = Self.origin(origin) else { return .refused("Origin \"\(origin)\" is not an http(s) origin") }
        if allowed.contains(parsed) { return .allowlisted }
        if let host, let (hostName, hostPort) = Self.hostAndPort(host), hostName == parsed.host,
           hostPort.map({ $0 == parsed.port }) ?? (parsed.port == Self.defaultPort(parsed.scheme)) {
            return .sameOrigin
        }
        return .refused("Origin \(origin) is neither this server (Host: \(host ?? "none")) nor an --allowed-origin")
    }

    /// Whether a `Host` header names this machine's loopback interface or an allowed origin's
    /// host. An open server (no login, loopback only) refuses other names: a page on another site
    /// could make its own host name resolve to 127.0.0.1 (DNS rebinding) and so be "same origin".
    public func acceptsOpenAccess(host: String?) -> Bool {
        guard let host, let (name, _) = Self.hostAndPort(host) else { return false }
        return Self.isLoopback(name) || allowed.contains { $0.host == name }
    }

    /// Whether a listen address or host name is the loopback interface (127.0.0.0/8, ::1, localhost).
    public static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" || name == "::1" || name == "0:0:0:0:0:0:0:1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    static func origin(_ text: String) -> Origin? {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("http://") { scheme = "http" } else if lower.hasPrefix("https://") { scheme = "https" } else { return nil }
        let rest = String(lower.dropFirst(scheme.count + 3))
        guard !rest.contains("/"), !rest.contains("@"), !rest.contains("?"), !rest.contains("#"),
              let (host, port) = hostAndPort(rest) else { return nil }
        return Origin(scheme: scheme, host: host, port: port ?? defaultPort(scheme))
    }

    /// Splits `host[:port]` or `[v6]:port`; lowercases the host.
    static func hostAndPort(_ text: String) -> (String, Int?)? {
        let lower = text.lowercased()
        if lower.hasPrefix("[") {
            guard let close = lower.firstIndex(of: "]") else { return nil }
            let host = String(lower[lower.index(after: lower.startIndex)..<close])
            let after = lower[lower.index(after: close)...]
            if after.isEmpty { return host.isEmpty ? nil : (host, nil) }
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        let parts = lower.split(separator: ":", omittingEmptySubsequences: false)
        guard let name = parts.first, !name.isEmpty else { return nil }
        switch parts.count {
        case 1: return (String(name), nil)
        case 2:
            guard let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
            return (String(name), port)
        default: return nil
        }
    }

    static func defaultPort(_ scheme: String) -> Int { scheme == "https" ? 443 : 80 }
}
