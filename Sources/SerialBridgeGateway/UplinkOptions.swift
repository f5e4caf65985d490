import SerialBridgeJSON
import SerialBridgeUplink

/// The `server` keys that shape the connection rather than its address: `tls`, `proxy`,
/// `compression` (docs/CONFIG.md).
public struct UplinkOptions: Sendable, Hashable {
    /// TLS for `wss://`; nil for `ws://`.
    public var tls: UplinkTLSSettings?
    /// Where the HTTP proxy comes from.
    public var proxy: ProxySetting
    /// Offer permessage-deflate.
    public var compression: Bool

    /// Creates options (the defaults: system TLS, proxy from the environment, compression on).
    public init(tls: UplinkTLSSettings? = nil, proxy: ProxySetting = .environment, compression: Bool = true) {
        self.tls = tls
        self.proxy = proxy
        self.compression = compression
    }

    /// Reads `tls`, `proxy` and `compression` from the `server` object, reporting mistakes there.
    /// A `tls` object is built once here (files read, key matched to certificate) so a bad file
    /// is a config error at its JSON path, not a failure at the first connection.
    static func read(_ server: inout JSONObjectReader, url: ServerURL?, base: String) -> UplinkOptions {
        var options = UplinkOptions()
        options.compression = server.bool("compression") ?? true
        if let text = server.string("proxy") {
            if text == "none" {
                options.proxy = .direct
            } else {
                do {
                    options.proxy = .proxy(try ProxyURL(parsing: text))
                } catch {
                    server.fail(key: "proxy", "\(error.message) (or \"none\" for a direct connection)")
                }
            }
        }
        if var tls = server.object("tls") {
            if let url, !url.secure { tls.fail(tls.path, "applies only to wss:// URLs") }
            let settings = readTLS(&tls, base: base)
            if tls.isClean {
                do {
                    _ = try UplinkTLS(settings)
                } catch {
                    tls.fail(error.key.map { tls.path(of: $0) } ?? tls.path, error.message)
                }
            }
            options.tls = settings
            server.absorb(tls)
        } else if url?.secure == true {
            options.tls = UplinkTLSSettings()
        }
        return options
    }

    private static func readTLS(_ tls: inout JSONObjectReader, base: String) -> UplinkTLSSettings {
        let caFile = tls.string("caFile").map { GatewayConfig.resolve($0, against: base) }
        let systemTrustStore = tls.bool("systemTrustStore")
        var pins: [SPKIPin] = []
        for item in tls.array("pinnedKeys") ?? [] {
            if case .string(let text) = item.value, let pin = SPKIPin(base64: text) {
                pins.append(pin)
            } else {
                tls.fail(item.path, "must be the base64 SHA-256 digest of a public key (44 characters ending in \"=\"; see docs/CONFIG.md for the openssl command)")
            }
        }
        if tls.has("pinnedKeys"), pins.isEmpty, tls.isClean {
            tls.fail(key: "pinnedKeys", "must list at least one pin (leave the key out to disable pinning)")
        }
        let certificateFile = tls.string("certificateFile").map { GatewayConfig.resolve($0, against: base) }
        let keyFile = tls.string("keyFile").map { GatewayConfig.resolve($0, against: base) }
        let serverName = tls.string("serverName")
        if let serverName {
            if serverName.isEmpty || serverName.contains(where: { $0 == " " || $0 == "/" || $0 == ":" }) {
                tls.fail(key: "serverName", "must be a host name, not \"\(serverName)\"")
            } else if UplinkTLS.isIPLiteral(serverName) {
                tls.fail(key: "serverName", "must be a host name: an IP address cannot be sent in SNI (leave it out to check the certificate against the URL's address)")
            }
        }
        return UplinkTLSSettings(
            caFile: caFile, systemTrustStore: systemTrustStore, pinnedKeys: pins,
            certificateFile: certificateFile, keyFile: keyFile, serverName: serverName
        )
    }
}
