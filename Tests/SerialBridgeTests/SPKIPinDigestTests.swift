import Crypto
import SerialBridgeUplink
import Testing

/// The pin's SHA-256 (swift-nio-ssl's BoringSSL since swift-crypto left the gateway) against the
/// FIPS 180-2 vectors and swift-crypto's own digest.
@Suite("SPKI pin digest")
struct SPKIPinDigestTests {
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test func knownVectors() {
        #expect(Self.hex(SPKIPin(spki: Array("abc".utf8)).digest) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(SPKIPin(spki: []).digest) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(Self.hex(SPKIPin(spki: twoBlocks).digest) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test(arguments: [1, 55, 56, 63, 64, 65, 1000, 100_000])
    func agreesWithSwiftCrypto(_ count: Int) {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        #expect(SPKIPin(spki: bytes).digest == Array(SHA256.hash(data: bytes)))
    }
}
