/// A `postgres://` connection URL, taken apart: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`.
///
/// Only what the server needs is understood; anything else is refused with a message naming the
/// part, so that a typo never silently connects somewhere unexpected. Percent-escapes are decoded
/// in the user, password and database (a password may contain `@` as `%40`).
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// How the connection uses TLS (libpq's `sslmode` names).
    public enum TLSMode: String, Sendable, Hashable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, plain otherwise (libpq's default).
        case prefer
        /// TLS or no connection (certificates are verified against the system's CAs).
        case require
    }

    /// Host name or IP address (IPv6 in brackets in the URL, without them here).
    public var host: String
    /// TCP port (5432 when the URL has none).
    public var port: Int
    /// Role to log in as.
    public var user: String
    /// Password, when the URL has one.
    public var password: String?
    /// Database name.
    public var database: String
    /// TLS use.
    public var tls: TLSMode

    /// Parses `text`; throws a message naming what is wrong (never echoing a password).
    public init(_ text: String) throws(PostgresURLError) {
        var rest = Substring(text)
        guard let scheme = rest.range(of: "://") else { throw PostgresURLError(text, "expected postgres://USER@HOST[:PORT]/DATABASE") }
        guard ["postgres", "postgresql"].contains(rest[..<scheme.lowerBound].lowercased()) else {
            throw PostgresURLError(text, "the scheme must be postgres:// or postgresql://")
        }
        rest = rest[scheme.upperBound...]
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let slash = rest.firstIndex(of: "/") else { throw PostgresURLError(text, "no database name (…/DATABASE)") }
        let authority = rest[..<slash]
        guard let database = Self.decode(rest[rest.index(after: slash)...]), !database.isEmpty, !database.contains("/") else {
            throw PostgresURLError(text, "no database name (…/DATABASE)")
        }
        self.database = database
        guard let at = authority.lastIndex(of: "@") else { throw PostgresURLError(text, "no user name (USER@HOST)") }
        let credentials = authority[..<at]
        var hostPort = authority[authority.index(after: at)...]
        if let colon = credentials.firstIndex(of: ":") {
            guard let user = Self.decode(credentials[..<colon]), let password = Self.decode(credentials[credentials.index(after: colon)...]) else {
                throw PostgresURLError(text, "a bad percent-escape in the user or password")
            }
            self.user = user
            self.password = password
        } else {
            guard let user = Self.decode(credentials) else { throw PostgresURLError(text, "a bad percent-escape in the user") }
            self.user = user
            password = nil
        }
        guard !user.isEmpty else { throw PostgresURLError(text, "no user name (USER@HOST)") }
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw PostgresURLError(text, "an unclosed [ in the IPv6 host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            hostPort = hostPort[hostPort.index(after: close)...]
            if hostPort.hasPrefix(":") { portText = hostPort.dropFirst() } else if !hostPort.isEmpty {
                throw PostgresURLError(text, "unexpected text after the IPv6 host")
            }
        } else if let colon = hostPort.firstIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw PostgresURLError(text, "no host (USER@HOST)") }
        if let portText {
            guard let port = Int(portText), (1...65_535).contains(port) else { throw PostgresURLError(text, "the port must be 1 to 65535") }
            self.port = port
        } else {
            port = 5432
        }
        tls = .prefer
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let value = parts.count == 2 ? String(parts[1]) : ""
            switch parts[0] {
            case "sslmode":
                switch value {
                case "disable": tls = .disable
                case "allow", "prefer": tls = .prefer
                case "require", "verify-ca", "verify-full": tls = .require
                default: throw PostgresURLError(text, "sslmode must be disable, prefer or require, not \"\(value)\"")
                }
            default:
                throw PostgresURLError(text, "unknown parameter \"\(parts[0])\" (only sslmode is understood)")
            }
        }
    }

    /// The URL without its password, for logs and messages.
    public var description: String {
        "postgres://\(user)\(password == nil ? "" : ":***")@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }

    private static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first < utf8.endIndex else { return nil }
                let second = utf8.index(after: first)
                guard second < utf8.endIndex, let high = hex(utf8[first]), let low = hex(utf8[second]) else { return nil }
                bytes.append(high << 4 | low)
                index = utf8.index(after: second)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A `--database` URL that cannot be used, and why.
public struct PostgresURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URL with any password masked.
    public var url: String
    /// What is wrong with it.
    public var reason: String

    init(_ url: String, _ reason: String) {
        self.url = Self.masked(url)
        self.reason = reason
    }

    public var description: String { "bad PostgreSQL URL \(url): \(reason)" }

    /// `url` with the password between `user:` and `@` replaced by `***`.
    static func masked(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@"),
              let colon = url[scheme.upperBound..<at].firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}
