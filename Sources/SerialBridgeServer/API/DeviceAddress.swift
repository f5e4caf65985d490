/// A device as the API names it: `GATEWAY:DEVICE` (split at the first colon), percent-encoded
/// when it is a path segment.
public struct DeviceAddress: Sendable, Hashable, CustomStringConvertible {
    /// Gateway id.
    public var gateway: String
    /// Device id within the gateway.
    public var device: String

    /// Creates an address.
    public init(gateway: String, device: String) {
        self.gateway = gateway
        self.device = device
    }

    /// The API id, `GATEWAY:DEVICE`.
    public var description: String { "\(gateway):\(device)" }

    /// Parses an id already decoded (a query parameter).
    public static func parse(_ id: String) throws(APIError) -> DeviceAddress {
        guard let colon = id.firstIndex(of: ":"), colon != id.startIndex, id.index(after: colon) != id.endIndex else {
            throw .badRequest("device id \"\(id)\" must be GATEWAY:DEVICE")
        }
        return DeviceAddress(gateway: String(id[..<colon]), device: String(id[id.index(after: colon)...]))
    }

    /// Parses a path segment, percent-decoding it first (`gw-1%3Asensor-1` and `gw-1:sensor-1` alike).
    public static func parse(pathSegment: String) throws(APIError) -> DeviceAddress {
        guard let decoded = PercentDecoding.decode(pathSegment) else {
            throw .badRequest("device id \"\(pathSegment)\" has a bad percent escape or is not UTF-8")
        }
        return try parse(decoded)
    }
}

/// `%XX` escapes of URL paths (the router hands path parameters over undecoded).
enum PercentDecoding {
    /// The decoded text, or nil for a broken escape or bytes that are not UTF-8.
    static func decode(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
