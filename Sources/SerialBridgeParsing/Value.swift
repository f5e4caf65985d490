/// A decoded value of a reading.
public enum Value: Sendable, Hashable {
    case float(Double)
    case integer(Int64)
    case string(String)
    case boolean(Bool)
    /// Opaque bytes (raw pass-through).
    case bytes([UInt8])

    /// The value as a double, for numbers.
    public var number: Double? {
        switch self {
        case .float(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
}

/// Why a frame did not decode. Counted per device; the frame is skipped.
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, e.g. `field "humidity": "abc" is not a valid float`.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
