import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization
import UnixSignals

/// TLS for the server (`serialbridge-server serve --tls-certificate … --tls-key …`): HTTPS for the
/// API and dashboard, wss:// for gateways. The certificate and key are read again by ``reload()``
/// (on SIGHUP in the CLI), so a renewed certificate is served to new connections without a
/// restart; open connections keep the one they started with.
public final class ServerTLS: Sendable {
    /// The server certificate file: leaf first, then intermediates.
    public let certificateFile: String
    /// Its unencrypted private key.
    public let keyFile: String
    /// When set, every client must present a certificate issued by one of these CAs (mutual TLS).
    public let clientCAFile: String?
    private let current: Mutex<NIOSSLContextConfigurationOverride>

    /// Reads the files once.
    /// - Throws: NIOSSL's error for a file that cannot be read or parsed.
    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
        current = Mutex(try Self.identity(certificateFile: certificateFile, keyFile: keyFile))
    }

    /// The configuration to serve with: every handshake takes the certificate loaded last.
    public var configuration: TLSConfiguration {
        get throws {
            var configuration = try Self.configuration(certificateFile: certificateFile, keyFile: keyFile, clientCAFile: clientCAFile)
            configuration.sslContextCallback = { [self] _, promise in
                promise.succeed(current.withLock { $0 })
            }
            return configuration
        }
    }

    /// Reads the certificate and key again. On failure the previous ones stay in use.
    public func reload() throws {
        let fresh = try Self.identity(certificateFile: certificateFile, keyFile: keyFile)
        current.withLock { $0 = fresh }
    }

    /// The certificate chain and key, checked to belong together (building a context does that).
    private static func identity(certificateFile: String, keyFile: String) throws -> NIOSSLContextConfigurationOverride {
        let configuration = try configuration(certificateFile: certificateFile, keyFile: keyFile)
        _ = try NIOSSLContext(configuration: configuration)
        var identity = NIOSSLContextConfigurationOverride()
        identity.certificateChain = configuration.certificateChain
        identity.privateKey = configuration.privateKey
        return identity
    }

    /// Builds a TLS configuration from PEM files.
    public static func configuration(certificateFile: String, keyFile: String, clientCAFile: String? = nil) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        )
        if let clientCAFile {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCAFile))
            // Clients have no host name to check; the chain to the client CA is what counts.
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }
}

/// Runs `reload` on every SIGHUP until graceful shutdown.
public struct ReloadOnHangup: Service {
    let logger: Logger
    let reload: @Sendable () -> Void

    /// Creates the service.
    public init(logger: Logger, reload: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.reload = reload
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        try? await cancelWhenGracefulShutdown {
            for await _ in signals {
                logger.info("SIGHUP: reloading")
                reload()
            }
        }
    }
}
