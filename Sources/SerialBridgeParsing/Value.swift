/// A decoded value of a reading.
public enum Value: Sendable, Hashable {
    case float(Double)
    case integer(Int64)
    case string(String)
    case boolean(Bool)
}

/// One decoded frame: values in the order of the profile's fields.
public struct DecodedValues: Sendable, Hashable {
    /// Values, index-aligned with ``DeviceParser/fields``.
    public var values: [Value]

    /// Creates decoded values.
    public init(_ values: [Value]) { self.values = values }
}

/// Why a frame did not decode. Counted per device; the frame is skipped.
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, e.g. `field "humidity": "abc" is not a number`.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
