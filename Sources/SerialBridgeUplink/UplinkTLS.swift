import NIOCore
import NIOSSL

/// What the gateway config says about TLS for `wss://` (docs/CONFIG.md, `server.tls`).
///
/// The default verifies the server against the system trust store and its host name, with no pins
/// and no client certificate.
public struct UplinkTLSSettings: Sendable, Hashable {
    /// PEM bundle of CA certificates to trust.
    public var caFile: String?
    /// Whether the system trust store is trusted too. Defaults to true without `caFile` and false
    /// with it: a private CA replaces the public ones unless this says otherwise.
    public var systemTrustStore: Bool
    /// SPKI SHA-256 pins; when not empty, some certificate of the verified chain must have one.
    public var pinnedKeys: [SPKIPin]
    /// PEM client certificate (leaf first, then any intermediates) for mutual TLS.
    public var certificateFile: String?
    /// PEM private key of `certificateFile` (unencrypted).
    public var keyFile: String?
    /// Name sent in SNI and checked against the server certificate, instead of the URL's host.
    public var serverName: String?

    /// Creates settings; `systemTrustStore` defaults as documented above.
    public init(
        caFile: String? = nil, systemTrustStore: Bool? = nil, pinnedKeys: [SPKIPin] = [],
        certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil
    ) {
        self.caFile = caFile
        self.systemTrustStore = systemTrustStore ?? (caFile == nil)
        self.pinnedKeys = pinnedKeys
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }
}

/// Why TLS settings could not be turned into a TLS context; `key` names the `server.tls` key at fault.
public struct UplinkTLSSetupError: Error, Sendable, CustomStringConvertible {
    /// The offending key of `server.tls` (`caFile`, `certificateFile`, `keyFile`), or nil for the whole object.
    public var key: String?
    /// What is wrong.
    public var message: String

    public var description: String { key.map { "\($0): \(message)" } ?? message }
}

/// TLS for the uplink, built once from ``UplinkTLSSettings``: the BoringSSL context (trust roots,
/// client certificate), the pins and the name to send in SNI.
///
/// Building it reads the PEM files and, when the system store is trusted, loads that store: do it
/// at start, not per connection. Every connection of the uplink and of ``AuthProbe`` shares it.
public struct UplinkTLS: Sendable {
    /// The settings this was built from.
    public let settings: UplinkTLSSettings
    /// The NIOSSL configuration (full verification: chain and host name).
    public let configuration: TLSConfiguration
    /// The context every connection is made from.
    public let context: NIOSSLContext
    /// Pins checked on the verified chain after BoringSSL's own verification passed.
    public let pins: Set<SPKIPin>

    /// Builds the TLS context.
    /// - Throws: ``UplinkTLSSetupError`` naming the file that cannot be read or used.
    public init(_ settings: UplinkTLSSettings) throws(UplinkTLSSetupError) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        // Closing waits this long for the server's close_notify (NIOSSL's default: 5 s). The
        // WebSocket close handshake has already settled everything by then, and every closed link
        // (shutdown, rollover, failover) would otherwise hang on for the whole default.
        configuration.shutdownTimeout = .seconds(1)
        if let caFile = settings.caFile {
            let authorities = try Self.certificates(caFile, key: "caFile")
            if settings.systemTrustStore {
                configuration.trustRoots = .default
                configuration.additionalTrustRoots = [.certificates(authorities)]
            } else {
                configuration.trustRoots = .certificates(authorities)
            }
        } else if !settings.systemTrustStore {
            throw UplinkTLSSetupError(key: "systemTrustStore", message: "false without caFile would trust nothing")
        }
        switch (settings.certificateFile, settings.keyFile) {
        case (let certificateFile?, let keyFile?):
            configuration.certificateChain = try Self.certificates(certificateFile, key: "certificateFile").map { .certificate($0) }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw UplinkTLSSetupError(key: "keyFile", message: "\(keyFile): not a readable unencrypted PEM private key (\(error))")
            }
        case (nil, nil):
            break
        case (_?, nil):
            throw UplinkTLSSetupError(key: "keyFile", message: "is required with certificateFile")
        case (nil, _?):
            throw UplinkTLSSetupError(key: "certificateFile", message: "is required with keyFile")
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            // The usual cause with a client certificate: the key does not belong to it.
            let key = settings.certificateFile == nil ? nil : "keyFile"
            throw UplinkTLSSetupError(key: key, message: "cannot build the TLS context: \(error)")
        }
        self.settings = settings
        self.configuration = configuration
        self.pins = Set(settings.pinnedKeys)
    }

    /// The name for SNI and host-name verification when dialling `host`: the configured
    /// `serverName`, else the host itself unless it is an IP literal (SNI cannot carry one; the
    /// certificate is then checked against the peer's address).
    public func serverHostname(for host: String) -> String? {
        if let name = settings.serverName { return name }
        return Self.isIPLiteral(host) ? nil : host
    }

    /// True for an IPv4 or IPv6 address literal (without brackets).
    public static func isIPLiteral(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    private static func certificates(_ file: String, key: String) throws(UplinkTLSSetupError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(file)
        } catch {
            throw UplinkTLSSetupError(key: key, message: "\(file): not a readable PEM certificate file (\(error))")
        }
        guard !certificates.isEmpty else {
            throw UplinkTLSSetupError(key: key, message: "\(file): holds no PEM certificate")
        }
        return certificates
    }
}
