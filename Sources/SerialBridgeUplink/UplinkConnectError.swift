import NIOExtras
import NIOSSL

/// Why the uplink could not reach the WebSocket upgrade: proxy, TLS or set-up time, each said in
/// words an operator can act on. The uplink logs it as `cannot connect to URL: <description>`.
public enum UplinkConnectError: Error, Sendable, Equatable, CustomStringConvertible {
    /// BoringSSL did not trust the server's chain (unknown CA, expired, self-signed…).
    case untrusted(trust: String, detail: String)
    /// The certificate is trusted but issued for another name.
    case wrongHost(expected: String)
    /// The chain verified, but no certificate in it has a pinned key; `chain` lists the chain's
    /// own pins, leaf first, so a rotated key can be recognised.
    case noPinnedKey(chain: [SPKIPin])
    /// The server asked for a client certificate and none is configured.
    case clientCertificateRequired
    /// The server refused the client certificate.
    case clientCertificateRejected(detail: String)
    /// Any other TLS failure.
    case tls(detail: String)
    /// The proxy wants credentials (HTTP 407): none were given, or it refused them.
    case proxyAuthenticationRequired(proxy: String, credentialsGiven: Bool)
    /// The proxy refused or failed the CONNECT.
    case proxyRefused(proxy: String, detail: String)
    /// TCP, proxy, TLS and upgrade together took longer than allowed.
    case setupTimedOut(milliseconds: Int64)

    public var description: String {
        switch self {
        case .untrusted(let trust, let detail):
            "TLS: the server's certificate is not trusted by \(trust) (\(detail))"
        case .wrongHost(let expected):
            "TLS: the server's certificate is not valid for \"\(expected)\" (wrong host; set server.tls.serverName if the server is reached by another name)"
        case .noPinnedKey(let chain):
            "TLS: no certificate in the server's verified chain has a pinned key (server.tls.pinnedKeys); the chain's keys, leaf first: \(chain.map(\.description).joined(separator: ", "))"
        case .clientCertificateRequired:
            "TLS: the server requires a client certificate (set server.tls.certificateFile and keyFile)"
        case .clientCertificateRejected(let detail):
            "TLS: the server refused the client certificate (\(detail))"
        case .tls(let detail):
            "TLS handshake failed: \(detail)"
        case .proxyAuthenticationRequired(let proxy, let given):
            given
                ? "proxy \(proxy) requires authentication (HTTP 407) and refused the user and password of the proxy URL"
                : "proxy \(proxy) requires authentication (HTTP 407): give user:password in the proxy URL"
        case .proxyRefused(let proxy, let detail):
            "proxy \(proxy) refused the tunnel: \(detail)"
        case .setupTimedOut(let milliseconds):
            "no WebSocket connection within \(milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms") (TCP, proxy, TLS and upgrade): the server or proxy accepted the connection and went silent"
        }
    }

    /// Names a TLS failure seen after the handshake gate (a TLS 1.3 server's verdict on the client
    /// certificate arrives after the client's handshake is done); nil when `error` is no TLS error.
    static func classifyTLS(_ error: any Error) -> UplinkConnectError? {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return nil  // Only the gate knows the expected name; it reports this one itself.
        }
        guard error is NIOSSLError || error is BoringSSLError else { return nil }
        let text = "\(error)"
        if text.contains("CERTIFICATE_REQUIRED") { return .clientCertificateRequired }
        for alert in ["ALERT_BAD_CERTIFICATE", "ALERT_UNKNOWN_CA", "ALERT_CERTIFICATE_UNKNOWN", "ALERT_CERTIFICATE_EXPIRED", "ALERT_ACCESS_DENIED"]
        where text.contains(alert) {
            return .clientCertificateRejected(detail: alert)
        }
        return .tls(detail: Self.shortReason(text))
    }

    /// The BoringSSL reason names in an error's text (`CERTIFICATE_VERIFY_FAILED`, …), else the text.
    public static func shortReason(_ text: String) -> String {
        // BoringSSL stacks read `error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED`.
        let reasons = text.split(separator: "OPENSSL_internal:").dropFirst().map { $0.prefix { $0.isLetter || $0.isNumber || $0 == "_" } }
        let unique = reasons.reduce(into: [Substring]()) { if !$0.contains($1) { $0.append($1) } }
        return unique.isEmpty ? text : unique.joined(separator: ", ")
    }

    /// Names a proxy failure; nil when `error` is not one.
    static func classifyProxy(_ error: any Error, proxy: ProxyURL) -> UplinkConnectError? {
        guard let proxyError = error as? NIOHTTP1ProxyConnectHandler.Error else { return nil }
        if proxyError == .proxyAuthenticationRequired() {
            return .proxyAuthenticationRequired(proxy: proxy.description, credentialsGiven: proxy.user != nil)
        }
        // The description ends with the source location of the handler; keep the reason only.
        let text = "\(proxyError)"
        let reason = text.lastIndex(of: "(").map { text[..<$0].trimmingSuffix(" ") } ?? Substring(text)
        return .proxyRefused(proxy: proxy.description, detail: String(reason))
    }
}

extension Substring {
    fileprivate func trimmingSuffix(_ character: Character) -> Substring {
        var result = self
        while result.last == character { result = result.dropLast() }
        return result
    }
}
