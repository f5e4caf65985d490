import SerialBridgeParsing
import SerialBridgePolling

/// Finds Modbus RTU requests in the bytes a simulated slave received (the master's side of the
/// framing, which ``ModbusRTUFramer`` does not cover).
enum ModbusRequestScanner {
    /// A request: unit, function, address, and register count (or the written value for function 6).
    struct Request {
        var unit: UInt8
        var function: UInt8
        var address: UInt16
        var count: UInt16
    }

    /// The first request in `bytes`: how many bytes it used and the request, or a byte count with
    /// nil for bytes skipped as noise. Nil when more bytes are needed.
    static func next(in bytes: [UInt8]) -> (Int, Request?)? {
        guard bytes.count >= 2 else { return nil }
        let length: Int
        switch bytes[1] {
        case 1...6: length = 8
        case 15, 16:
            guard bytes.count >= 7 else { return nil }
            length = 9 + Int(bytes[6])
        default: return (1, nil)
        }
        guard bytes.count >= length else { return nil }
        let crc = bytes[0..<length - 2].withUnsafeBytes { ChecksumAlgorithm.crc16Modbus.compute($0) }
        guard bytes[length - 2] == UInt8(crc & 0xFF), bytes[length - 1] == UInt8(crc >> 8) else { return (1, nil) }
        let request = Request(
            unit: bytes[0], function: bytes[1],
            address: UInt16(bytes[2]) << 8 | UInt16(bytes[3]), count: UInt16(bytes[4]) << 8 | UInt16(bytes[5])
        )
        return (length, request)
    }
}
