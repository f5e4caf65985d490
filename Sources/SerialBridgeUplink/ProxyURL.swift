import SerialBridgeJSON

/// An HTTP proxy that tunnels with `CONNECT`: `http://[user:password@]host[:port]`.
///
/// The port defaults to 80; user and password may be percent-encoded and are sent as
/// `Proxy-Authorization: Basic`. The description never shows the password.
public struct ProxyURL: Sendable, Hashable, CustomStringConvertible {
    /// Proxy host name or address (IPv6 without brackets).
    public var host: String
    /// Proxy port.
    public var port: Int
    /// User name, decoded.
    public var user: String?
    /// Password, decoded.
    public var password: String?

    /// Creates a proxy address.
    public init(host: String, port: Int, user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
    }

    /// Parses `text`.
    /// - Throws: a message saying what is wrong, e.g. `must start with http://`.
    public init(parsing text: String) throws(ProxyURLError) {
        guard text.hasPrefix("http://") else {
            throw ProxyURLError(message: text.contains("://")
                ? "only http:// proxies are supported (the tunnel to the server is HTTP CONNECT), not \"\(Self.redacted(text))\""
                : "must be a URL http://[user:password@]host[:port], not \"\(Self.redacted(text))\"")
        }
        var authority = Substring(text.dropFirst(7))
        if let slash = authority.firstIndex(of: "/") {
            guard authority[slash...] == "/" else { throw ProxyURLError(message: "must not have a path") }
            authority = authority[..<slash]
        }
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = Self.percentDecoded(parts[0]), !user.isEmpty else {
                throw ProxyURLError(message: "has a malformed user name")
            }
            self.user = user
            if parts.count == 2 {
                guard let password = Self.percentDecoded(parts[1]) else { throw ProxyURLError(message: "has a malformed password") }
                self.password = password
            }
        }
        let hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw ProxyURLError(message: "has an unclosed [") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw ProxyURLError(message: "has junk after ]") }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { throw ProxyURLError(message: "has no host") }
        host = String(hostPart)
        if let portPart {
            guard let port = Int(portPart), (1...65535).contains(port) else {
                throw ProxyURLError(message: "has an invalid port \"\(portPart)\"")
            }
            self.port = port
        } else {
            port = 80
        }
    }

    /// `http://user:***@host:port`.
    public var description: String {
        let credentials = user.map { password == nil ? "\($0)@" : "\($0):***@" } ?? ""
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "http://\(credentials)\(hostPart):\(port)"
    }

    /// The `Proxy-Authorization` value, when there are credentials.
    public var authorization: String? {
        guard let user else { return nil }
        return "Basic " + Base64.encode(Array("\(user):\(password ?? "")".utf8))
    }

    /// `text` with any password hidden, for error messages.
    static func redacted(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let scheme = text.firstRange(of: "://") else { return text }
        let userinfo = text[scheme.upperBound..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first < utf8.endIndex else { return nil }
                let second = utf8.index(after: first)
                guard second < utf8.endIndex,
                      let high = hexValue(utf8[first]), let low = hexValue(utf8[second]) else { return nil }
                bytes.append(high << 4 | low)
                index = utf8.index(after: second)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why a proxy URL was rejected.
public struct ProxyURLError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    public var description: String { message }
}
