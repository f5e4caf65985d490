import SerialBridgeParsing
import Testing

@Suite("Checksums and integrity checks")
struct ChecksumTests {
    /// Check values over ASCII "123456789": the CRC catalogue's (reveng) for the CRCs.
    @Test(arguments: [
        (ChecksumAlgorithm.sum8, UInt32(0xDD)),
        (.sum16, 0x01DD),
        (.xor8, 0x31),
        (.twosComplement8, 0x23),
        (.crc16Modbus, 0x4B37),
        (.crc16CcittFalse, 0x29B1),
        (.crc32, 0xCBF4_3926),
    ])
    func checkValues(algorithm: ChecksumAlgorithm, expected: UInt32) {
        #expect(algorithm.compute(Array("123456789".utf8)) == expected)
    }

    @Test func modbusRequestFromTheSpecificationPasses() {
        // Slave 1, function 3, 10 registers from 0: the request printed in many Modbus references,
        // CRC low byte first.
        let frame: [UInt8] = [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]
        let check = IntegrityCheck(algorithm: .crc16Modbus, position: -2)
        #expect(frame.withUnsafeBytes { (try? check.verify($0).get()) != nil })
    }

    @Test func sds011DatasheetFrame() {
        let frame: [UInt8] = [0xAA, 0xC0, 0xD4, 0x04, 0x3A, 0x0A, 0xA1, 0x60, 0x1D, 0xAB]
        let check = IntegrityCheck(algorithm: .sum8, from: 2, to: 8, position: 8)
        #expect(frame.withUnsafeBytes { (try? check.verify($0).get()) != nil })
        var corrupted = frame
        corrupted[3] ^= 0x01
        let failure = corrupted.withUnsafeBytes { bytes -> String? in
            if case .failure(let failure) = check.verify(bytes) { return failure.message }
            return nil
        }
        #expect(failure == "sum8 mismatch: computed 0x1E, frame says 0x1D")
    }

    @Test func aFrameTooShortForItsChecksumIsRejectedNotRead() {
        let check = IntegrityCheck(algorithm: .crc32, position: -4)
        let failure = [UInt8]([1, 2]).withUnsafeBytes { bytes -> String? in
            if case .failure(let failure) = check.verify(bytes) { return failure.message }
            return nil
        }
        #expect(failure == "frame of 2 bytes is too short for its crc32 checksum")
    }

    @Test func randomFramesNeverCrashAnyCheck() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let frame = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let check = IntegrityCheck(
                algorithm: ChecksumAlgorithm.allCases.randomElement(using: &random) ?? .sum8,
                from: Int.random(in: -50...50, using: &random), to: Bool.random(using: &random) ? nil : Int.random(in: -50...50, using: &random).nonZero,
                position: Int.random(in: -50...50, using: &random)
            )
            _ = frame.withUnsafeBytes { check.verify($0) }
        }
    }
}

extension Int {
    var nonZero: Int { self == 0 ? 1 : self }
}
