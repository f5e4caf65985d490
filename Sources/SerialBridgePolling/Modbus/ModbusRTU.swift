import SerialBridgeParsing

/// Modbus RTU application data units, as a master builds requests and reads responses
/// (Modbus Application Protocol V1.1b3; Modbus over Serial Line V1.02).
public enum ModbusRTU {
    /// Function codes the gateway uses.
    public enum Function: UInt8, Sendable, Hashable, CaseIterable {
        case readHoldingRegisters = 3
        case readInputRegisters = 4
        case writeSingleRegister = 6
        case writeMultipleRegisters = 16
    }

    /// A parsed response.
    public enum Response: Sendable, Hashable {
        /// Register words of a read (functions 3 and 4).
        case registers([UInt16])
        /// The echo of a write (functions 6 and 16): address and value or count.
        case written(address: UInt16, value: UInt16)
        /// An exception response: the function's code and the exception code.
        case exception(function: UInt8, code: UInt8)
    }

    /// Most registers one read may ask for (the byte count must fit one byte).
    public static let maxReadCount = 125
    /// Most registers one write-multiple may carry.
    public static let maxWriteCount = 123

    /// A read request for `count` registers from `address`, CRC appended.
    public static func readRequest(unit: UInt8, function: Function, address: UInt16, count: UInt16) -> [UInt8] {
        withCRC([unit, function.rawValue, UInt8(address >> 8), UInt8(address & 0xFF), UInt8(count >> 8), UInt8(count & 0xFF)])
    }

    /// A write request: function 6 for one word, 16 for one or more (always 16 when asked).
    public static func writeRequest(unit: UInt8, function: Function, address: UInt16, words: [UInt16]) -> [UInt8] {
        var bytes: [UInt8] = [unit, function.rawValue, UInt8(address >> 8), UInt8(address & 0xFF)]
        if function == .writeSingleRegister, let word = words.first {
            bytes += [UInt8(word >> 8), UInt8(word & 0xFF)]
        } else {
            let count = UInt16(words.count)
            bytes += [UInt8(count >> 8), UInt8(count & 0xFF), UInt8(truncatingIfNeeded: words.count * 2)]
            for word in words { bytes += [UInt8(word >> 8), UInt8(word & 0xFF)] }
        }
        return withCRC(bytes)
    }

    /// `bytes` followed by their CRC-16/MODBUS, low byte first.
    public static func withCRC(_ bytes: [UInt8]) -> [UInt8] {
        let crc = bytes.withUnsafeBytes { ChecksumAlgorithm.crc16Modbus.compute($0) }
        return bytes + [UInt8(crc & 0xFF), UInt8(crc >> 8)]
    }

    /// True when `frame` answers a request with this unit and function (a normal or an exception
    /// response). The framer has already checked the CRC.
    public static func answers(_ frame: UnsafeRawBufferPointer, unit: UInt8, function: UInt8) -> Bool {
        frame.count >= 5 && frame[0] == unit && (frame[1] == function || frame[1] == function | 0x80)
    }

    /// Parses a CRC-checked response frame; nil when its shape is not one of ``Response``.
    public static func parse(_ frame: UnsafeRawBufferPointer) -> Response? {
        guard frame.count >= 5 else { return nil }
        let function = frame[1]
        if function & 0x80 != 0 { return .exception(function: function & 0x7F, code: frame[2]) }
        switch function {
        case 3, 4:
            let count = Int(frame[2])
            guard count % 2 == 0, frame.count == count + 5 else { return nil }
            var words: [UInt16] = []
            words.reserveCapacity(count / 2)
            for index in stride(from: 3, to: 3 + count, by: 2) {
                words.append(UInt16(frame[index]) << 8 | UInt16(frame[index + 1]))
            }
            return .registers(words)
        case 6, 16:
            guard frame.count == 8 else { return nil }
            return .written(address: UInt16(frame[2]) << 8 | UInt16(frame[3]), value: UInt16(frame[4]) << 8 | UInt16(frame[5]))
        default:
            return nil
        }
    }

    /// The standard name of an exception code.
    public static func exceptionName(_ code: UInt8) -> String {
        switch code {
        case 1: "illegal function"
        case 2: "illegal data address"
        case 3: "illegal data value"
        case 4: "server device failure"
        case 5: "acknowledge"
        case 6: "server device busy"
        case 8: "memory parity error"
        case 10: "gateway path unavailable"
        case 11: "gateway target device failed to respond"
        default: "exception \(code)"
        }
    }
}
