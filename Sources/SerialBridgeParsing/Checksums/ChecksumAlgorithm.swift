/// The checksums and CRCs a profile's `integrity.algorithm` can name.
///
/// Parameters follow the CRC catalogue (reveng): each CRC's check value over the ASCII bytes
/// `123456789` is in the tests.
public enum ChecksumAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// Sum of the bytes, modulo 256.
    case sum8
    /// Sum of the bytes, modulo 65536 (Plantower PMS sensors).
    case sum16
    /// XOR of the bytes (NMEA 0183 uses it over the sentence body).
    case xor8
    /// Two's complement of the 8-bit sum: the bytes plus the checksum sum to 0 (Winsen MH-Z19,
    /// Intel HEX).
    case twosComplement8 = "twos-complement8"
    /// CRC-16/MODBUS: poly 0x8005 reflected, init 0xFFFF; sent low byte first.
    case crc16Modbus = "crc16-modbus"
    /// CRC-16/CCITT-FALSE (CRC-16/IBM-3740): poly 0x1021, init 0xFFFF, not reflected.
    case crc16CcittFalse = "crc16-ccitt-false"
    /// CRC-32 (ISO-HDLC, as in zlib and Ethernet).
    case crc32

    /// Width of the checksum in bytes.
    public var width: Int {
        switch self {
        case .sum8, .xor8, .twosComplement8: 1
        case .sum16, .crc16Modbus, .crc16CcittFalse: 2
        case .crc32: 4
        }
    }

    /// The byte order the checksum is usually sent in, the default for `integrity.endianness`.
    public var conventionalEndianness: Endianness {
        self == .crc16Modbus || self == .crc32 ? .little : .big
    }

    /// Computes the checksum of `bytes`.
    public func compute(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        switch self {
        case .sum8:
            var sum: UInt8 = 0
            for byte in bytes { sum &+= byte }
            return UInt32(sum)
        case .sum16:
            var sum: UInt16 = 0
            for byte in bytes { sum &+= UInt16(byte) }
            return UInt32(sum)
        case .xor8:
            var value: UInt8 = 0
            for byte in bytes { value ^= byte }
            return UInt32(value)
        case .twosComplement8:
            var sum: UInt8 = 0
            for byte in bytes { sum &+= byte }
            return UInt32(0 &- sum)
        case .crc16Modbus:
            var crc: UInt16 = 0xFFFF
            for byte in bytes {
                crc = (crc >> 8) ^ CRCTables.modbus[Int((crc ^ UInt16(byte)) & 0xFF)]
            }
            return UInt32(crc)
        case .crc16CcittFalse:
            var crc: UInt16 = 0xFFFF
            for byte in bytes {
                crc = (crc << 8) ^ CRCTables.ccitt[Int(((crc >> 8) ^ UInt16(byte)) & 0xFF)]
            }
            return UInt32(crc)
        case .crc32:
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc = (crc >> 8) ^ CRCTables.crc32[Int((crc ^ UInt32(byte)) & 0xFF)]
            }
            return crc ^ 0xFFFF_FFFF
        }
    }

    /// Computes the checksum of a byte array.
    public func compute(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { compute($0) }
    }
}

/// Byte order of a multi-byte number.
public enum Endianness: String, Sendable, Hashable, CaseIterable {
    case big, little
}

/// Table-driven CRCs: one lookup per byte instead of eight shifts.
enum CRCTables {
    static let modbus: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        return crc
    }

    static let ccitt: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    static let crc32: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        return crc
    }
}
