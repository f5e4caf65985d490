/// The string clean-up udevd applies to USB descriptor strings before they become `ID_VENDOR`,
/// `ID_MODEL` and `ID_SERIAL_SHORT` (`udev_replace_whitespace` then `udev_replace_chars`).
enum UdevStrings {
    /// Trims whitespace, turns each run of inner whitespace into one `_`, and replaces every
    /// character outside `0-9A-Za-z#+-.:=@_` (non-ASCII characters are kept) with `_`.
    static func sanitize(_ value: String) -> String {
        let words = value.split(whereSeparator: { $0.isWhitespace })
        let joined = words.joined(separator: "_")
        var result = ""
        result.unicodeScalars.reserveCapacity(joined.unicodeScalars.count)
        for scalar in joined.unicodeScalars {
            result.unicodeScalars.append(allowed(scalar) ? scalar : "_")
        }
        return result
    }

    private static func allowed(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value >= 0x80 { return true }
        switch scalar {
        case "0"..."9", "A"..."Z", "a"..."z", "#", "+", "-", ".", ":", "=", "@", "_": return true
        default: return false
        }
    }
}
