/// Where the uplink's HTTP proxy comes from: `server.proxy` in the config, else the environment.
///
/// Precedence: the config wins. `"none"` means direct even when the environment names a proxy; a
/// URL means that proxy for every connection, without looking at `no_proxy`. Without the key the
/// environment decides, as curl reads it: `https_proxy` or `HTTPS_PROXY` for `wss://`,
/// `http_proxy` for `ws://` (the upper-case `HTTP_PROXY` is ignored, as curl does), unless
/// `no_proxy` / `NO_PROXY` names the server's host. Empty variables count as unset.
public enum ProxySetting: Sendable, Hashable {
    /// No `server.proxy`: the environment decides.
    case environment
    /// `"none"`: always connect directly.
    case direct
    /// Always tunnel through this proxy.
    case proxy(ProxyURL)

    /// The proxy to use for `url`; nil for a direct connection.
    /// - Parameter environment: looks up an environment variable (the process's by default).
    /// - Throws: when the environment's proxy variable is not a usable `http://` URL, naming it.
    public func resolve(for url: ServerURL, environment: (String) -> String?) throws(ProxyURLError) -> UplinkProxy? {
        switch self {
        case .direct:
            return nil
        case .proxy(let proxy):
            return UplinkProxy(url: proxy, source: "server.proxy")
        case .environment:
            let names = url.secure ? ["https_proxy", "HTTPS_PROXY"] : ["http_proxy"]
            func value(_ name: String) -> String? {
                environment(name).flatMap { $0.isEmpty ? nil : $0 }
            }
            guard let name = names.first(where: { value($0) != nil }), let text = value(name) else { return nil }
            if let exceptions = value("no_proxy") ?? value("NO_PROXY"),
               NoProxyList(exceptions).matches(host: url.host, port: url.port) {
                return nil
            }
            do {
                return UplinkProxy(url: try ProxyURL(parsing: text), source: name)
            } catch {
                throw ProxyURLError(message: "environment variable \(name): \(error.message)")
            }
        }
    }
}

/// A proxy chosen for the uplink, and which setting chose it (for the log).
public struct UplinkProxy: Sendable, Hashable, CustomStringConvertible {
    /// The proxy.
    public var url: ProxyURL
    /// `server.proxy` or the environment variable's name.
    public var source: String

    /// Creates a choice.
    public init(url: ProxyURL, source: String) {
        self.url = url
        self.source = source
    }

    /// `http://host:port (from https_proxy)`.
    public var description: String { "\(url) (from \(source))" }
}

/// A `no_proxy` value: hosts reached directly.
///
/// Entries are separated by commas or spaces. `*` matches every host. A name matches itself and
/// every name under it (`example.org` and `.example.org` both match `example.org` and
/// `gw.example.org`, not `badexample.org`); an IP address matches only itself (no CIDR ranges).
/// An entry may end in `:PORT` (IPv6 in brackets: `[::1]:8443`) to match that port only.
/// Matching ignores case.
public struct NoProxyList: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        var host: String
        var port: Int?
    }

    let matchesEverything: Bool
    let entries: [Entry]

    /// Parses a `no_proxy` value; malformed entries are ignored, as other tools do.
    public init(_ text: String) {
        var everything = false
        var entries: [Entry] = []
        for raw in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
            if raw == "*" {
                everything = true
                continue
            }
            if let entry = Self.entry(raw) { entries.append(entry) }
        }
        matchesEverything = everything
        self.entries = entries
    }

    /// True when a connection to `host`:`port` should bypass the proxy.
    public func matches(host: String, port: Int) -> Bool {
        if matchesEverything { return true }
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasSuffix(".") { name.removeLast() }
        let isAddress = UplinkTLS.isIPLiteral(name)
        return entries.contains { entry in
            if let wanted = entry.port, wanted != port { return false }
            if isAddress || UplinkTLS.isIPLiteral(entry.host) { return name == entry.host }
            return name == entry.host || name.hasSuffix("." + entry.host)
        }
    }

    private static func entry(_ raw: Substring) -> Entry? {
        var text = raw.lowercased()[...]
        var port: Int?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()) else { return nil }
                port = value
            } else if !after.isEmpty {
                return nil
            }
            text = text[text.index(after: text.startIndex)..<close]
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            guard let value = Int(text[text.index(after: colon)...]) else { return nil }
            port = value
            text = text[..<colon]
        }
        if text.hasPrefix("*.") { text = text.dropFirst(2) }
        while text.hasPrefix(".") { text = text.dropFirst() }
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty else { return nil }
        return Entry(host: String(text), port: port)
    }
}
