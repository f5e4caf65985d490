import Crypto
import Foundation
import SerialBridgeJSON
import SwiftASN1
import X509

/// A certificate authority made in the test, and certificates it issues, written as PEM files.
struct TestPKI {
    /// One key with its certificate.
    struct Identity {
        let certificate: Certificate
        let key: P256.Signing.PrivateKey

        /// The HPKP pin of the key, computed from swift-crypto's own SPKI encoding (independent of
        /// the NIOSSL code path the gateway uses).
        var pin: String { Base64.encode(Array(SHA256.hash(data: key.publicKey.derRepresentation))) }
    }

    let authority: Identity
    let directory: TemporaryDirectory

    /// A new CA named `name`, valid from a day ago for ten years.
    init(name: String = "SerialBridge Test CA", in directory: TemporaryDirectory) throws {
        self.directory = directory
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-86_400), notValidAfter: Date().addingTimeInterval(86_400 * 3650),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            },
            issuerPrivateKey: .init(key)
        )
        authority = Identity(certificate: certificate, key: key)
    }

    /// A server certificate for `names` (DNS) and `addresses` (IPv4 literals).
    func server(names: [String], addresses: [[UInt8]] = []) throws -> Identity {
        try issue(common: names.first ?? "server", usage: .serverAuth) {
            SubjectAlternativeNames(names.map { .dnsName($0) } + addresses.map { .ipAddress(ASN1OctetString(contentBytes: $0[...])) })
        }
    }

    /// A client certificate for mutual TLS.
    func client(name: String) throws -> Identity {
        try issue(common: name, usage: .clientAuth) { SubjectAlternativeNames([.dnsName(name)]) }
    }

    /// Writes `identity`'s certificate and key as `NAME.pem` and `NAME.key`; returns both paths.
    @discardableResult
    func write(_ identity: Identity, as name: String) throws -> (certificate: String, key: String) {
        try directory.write("\(name).pem", identity.certificate.serializeAsPEM().pemString + "\n")
        try directory.write("\(name).key", identity.key.pemRepresentation + "\n")
        return (directory.file("\(name).pem"), directory.file("\(name).key"))
    }

    /// Writes the CA certificate as `ca.pem`; returns the path.
    func writeAuthority() throws -> String {
        try directory.write("ca.pem", authority.certificate.serializeAsPEM().pemString + "\n")
        return directory.file("ca.pem")
    }

    private func issue(
        common: String, usage: ExtendedKeyUsage.Usage, names: () throws -> SubjectAlternativeNames
    ) throws -> Identity {
        let key = P256.Signing.PrivateKey()
        let alternativeNames = try names()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(86_400 * 30),
            issuer: authority.certificate.subject, subject: try DistinguishedName { CommonName(common) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([usage])
                alternativeNames
                AuthorityKeyIdentifier(keyIdentifier: try authority.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(authority.key)
        )
        return Identity(certificate: certificate, key: key)
    }
}
