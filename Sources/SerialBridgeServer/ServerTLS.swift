import NIOSSL

/// TLS for the server (`serialbridge-server serve --tls-certificate … --tls-key …`): HTTPS for the
/// API and dashboard, wss:// for gateways.
public enum ServerTLS {
    /// Builds the server's TLS configuration from PEM files.
    /// - Parameters:
    ///   - certificateFile: the server certificate, leaf first, then intermediates.
    ///   - keyFile: its unencrypted private key.
    ///   - clientCAFile: when set, every client must present a certificate issued by one of these
    ///     CAs (mutual TLS); browsers then need one too.
    /// - Throws: NIOSSL's error for a file that cannot be read or parsed.
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
