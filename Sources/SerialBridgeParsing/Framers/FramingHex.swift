import SerialBridgeJSON

/// Hex text of bytes as framing sections write them: pairs of hex digits, optionally separated by
/// spaces (`"42 4D"`, `"424D"`, `"7e"`).
enum FramingHex {
    /// The bytes, or nil when the text is empty or not whole pairs of hex digits. A space may only
    /// stand between two pairs, so `"4 2"` is refused rather than read as `0x42`.
    static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for group in text.utf8.split(separator: UInt8(ascii: " ")) {
            guard group.count % 2 == 0 else { return nil }
            var high: UInt8?
            for character in group {
                guard let digit = value(of: character) else { return nil }
                if let first = high {
                    bytes.append(first << 4 | digit)
                    high = nil
                } else {
                    high = digit
                }
            }
        }
        return bytes.isEmpty ? nil : bytes
    }

    private static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension JSONObjectReader {
    /// A hex byte string at `key` of `count` bytes (at most 16 by default: delimiters and headers
    /// are short, and the framers compare them per byte). Records an error and returns nil when it
    /// is missing (if `required`), not a string, not hex, or of the wrong size.
    mutating func framingHex(_ key: String, required: Bool = false, count: ClosedRange<Int> = 1...16) -> [UInt8]? {
        guard let text = string(key, required: required) else { return nil }
        guard let bytes = FramingHex.decode(text) else {
            fail(key: key, "must be pairs of hex digits, e.g. \"42 4D\"")
            return nil
        }
        guard count.contains(bytes.count) else {
            fail(key: key, count.lowerBound == count.upperBound
                ? "must be exactly \(count.lowerBound) byte\(count.lowerBound == 1 ? "" : "s")"
                : "must be \(count.lowerBound) to \(count.upperBound) bytes")
            return nil
        }
        return bytes
    }

    /// A child object at `key`: nil when absent (an error if `required`) or when it is not an
    /// object (one error, rather than one per key the caller would then miss). Absorb it when done.
    mutating func framingObject(_ key: String, required: Bool = false) -> JSONObjectReader? {
        guard let node = value(key) else {
            if required { fail(key: key, "is required") }
            return nil
        }
        guard case .object = node else {
            fail(key: key, "must be an object, not \(node.typeName)")
            return nil
        }
        return JSONObjectReader(node, file: file, path: path(of: key))
    }

    /// The `maxLength` key every binary framer shares: 1–1,048,576 bytes, default 1024.
    mutating func framingMaxLength() -> Int {
        integer("maxLength", in: 1...1_048_576) ?? 1024
    }
}
