import SerialBridgeJSON

/// A profile's `integrity` section: which checksum covers which bytes of a frame, and where in the
/// frame the sender put it.
///
/// Positions are byte indexes into the frame as the framer delivers it; a negative index counts
/// from the end (`-1` is the last byte), so one rule fits frames of any length.
public struct IntegrityCheck: Sendable, Hashable {
    /// The algorithm.
    public var algorithm: ChecksumAlgorithm
    /// First covered byte (negative: from the end).
    public var from: Int
    /// Index just past the last covered byte (negative: from the end); `nil` covers every byte up
    /// to the checksum itself.
    public var to: Int?
    /// Index of the checksum's first byte (negative: from the end).
    public var position: Int
    /// Byte order of a multi-byte checksum.
    public var endianness: Endianness

    /// Creates a check.
    public init(algorithm: ChecksumAlgorithm, from: Int = 0, to: Int? = nil, position: Int, endianness: Endianness? = nil) {
        self.algorithm = algorithm
        self.from = from
        self.to = to
        self.position = position
        self.endianness = endianness ?? algorithm.conventionalEndianness
    }

    /// Why a frame failed the check.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// The message, e.g. `crc16-modbus mismatch: computed 0x4B37, frame says 0x0000`.
        public var message: String
        public var description: String { message }
    }

    /// Verifies `frame`.
    public func verify(_ frame: UnsafeRawBufferPointer) -> Result<Void, Failure> {
        let count = frame.count
        let start = from < 0 ? count + from : from
        let at = position < 0 ? count + position : position
        let end = to.map { $0 < 0 ? count + $0 : $0 } ?? at
        let width = algorithm.width
        guard start >= 0, end <= count, start <= end, at >= 0, at + width <= count else {
            return .failure(Failure(message: "frame of \(count) bytes is too short for its \(algorithm.rawValue) checksum"))
        }
        let computed = algorithm.compute(UnsafeRawBufferPointer(rebasing: frame[start..<end]))
        var stated: UInt32 = 0
        for index in 0..<width {
            let byte = UInt32(frame[at + (endianness == .big ? index : width - 1 - index)])
            stated = stated << 8 | byte
        }
        guard computed == stated else {
            let digits = width * 2
            return .failure(Failure(message: "\(algorithm.rawValue) mismatch: computed 0x\(Self.hex(computed, digits)), frame says 0x\(Self.hex(stated, digits))"))
        }
        return .success(())
    }

    static func hex(_ value: UInt32, _ digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// Reads an `integrity` section: `algorithm`, `from`, `to`, `position`, `endianness`.
    public static func read(_ section: inout JSONObjectReader) -> IntegrityCheck? {
        let algorithm = section.choice("algorithm", ChecksumAlgorithm.self, required: true)
        let from = section.integer("from", in: -65536...65535) ?? 0
        let to = section.integer("to", in: -65536...65536)
        if to == 0 { section.fail(key: "to", "must not be 0; leave it out to cover every byte up to the checksum") }
        let width = algorithm?.width ?? 1
        let position = section.integer("position", in: -65536...65535) ?? -width
        let endianness = section.choice("endianness", Endianness.self)
        guard let algorithm, section.isClean else { return nil }
        return IntegrityCheck(algorithm: algorithm, from: from, to: to, position: position, endianness: endianness)
    }
}
