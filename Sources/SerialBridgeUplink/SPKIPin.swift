import CNIOSSLDigest
import NIOSSL
import SerialBridgeJSON

/// A public-key pin: the SHA-256 digest of a certificate's DER-encoded SubjectPublicKeyInfo, as in
/// HPKP (RFC 7469) and curl's `--pinnedpubkey sha256//…`.
///
/// Written as standard base64 (44 characters), which is what
/// `openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`
/// prints. A pin names a key, not a certificate, so it survives re-issuing a certificate for the same key.
public struct SPKIPin: Sendable, Hashable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let digest: [UInt8]

    /// Parses a base64 pin; nil unless it decodes to exactly 32 bytes.
    public init?(base64: String) {
        guard let bytes = Base64.decode(base64), bytes.count == 32 else { return nil }
        digest = bytes
    }

    /// The pin of DER-encoded SubjectPublicKeyInfo bytes.
    public init(spki: [UInt8]) {
        // SHA-256 from the BoringSSL that NIOSSL links in anyway: swift-crypto, for this one
        // digest, added a second BoringSSL (2 MiB) to the gateway's binary.
        var digest = [UInt8](repeating: 0, count: 32)
        spki.withUnsafeBufferPointer { bytes in
            digest.withUnsafeMutableBufferPointer { serialbridge_sha256(bytes.baseAddress, bytes.count, $0.baseAddress) }
        }
        self.digest = digest
    }

    /// The pin of a certificate's public key.
    /// - Throws: when BoringSSL cannot re-encode the key (a malformed certificate).
    public init(of certificate: NIOSSLCertificate) throws {
        self.init(spki: try certificate.extractPublicKey().toSPKIBytes())
    }

    /// The base64 form, as written in the config.
    public var description: String { Base64.encode(digest) }

    /// The pin check on a verified chain: true when no pins are configured, or when some
    /// certificate of `chain` (leaf, intermediates or trust anchor) has a pinned key.
    public static func chain(_ chain: [SPKIPin], satisfies pins: Set<SPKIPin>) -> Bool {
        pins.isEmpty || chain.contains { pins.contains($0) }
    }
}
