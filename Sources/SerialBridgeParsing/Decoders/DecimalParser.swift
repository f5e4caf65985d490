/// Parses decimal numbers straight from bytes, without making a String: the hot path of every
/// text decoder. Falls back to the standard library for anything unusual, so results are always
/// correctly rounded.
public enum DecimalParser {
    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// `[+-]digits[.digits]` with at most 15 significant digits is exact (Clinger's fast path:
    /// the mantissa fits a Double and 10^k ≤ 10^22 is exact, so one division rounds correctly).
    /// Everything else (exponents, long mantissas, `inf`, `nan`) goes through `Double(String)`.
    public static func double(_ bytes: UnsafeRawBufferPointer) -> Double? {
        guard let (negative, start) = sign(bytes) else { return nil }
        var index = start
        let count = bytes.count
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var sawPoint = false
        var sawDigit = false
        while index < count {
            let byte = bytes[index]
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                sawDigit = true
                if mantissa != 0 || byte != UInt8(ascii: "0") { digits += 1 }
                mantissa = mantissa &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
                if sawPoint { fractionDigits += 1 }
            } else if byte == UInt8(ascii: "."), !sawPoint {
                sawPoint = true
            } else {
                return fallback(bytes)
            }
            index += 1
        }
        guard sawDigit else { return nil }
        guard digits <= 15, fractionDigits <= 22 else { return fallback(bytes) }
        let value = Double(mantissa) / powersOfTen[fractionDigits]
        return negative ? -value : value
    }

    /// `[+-]digits` as a 64-bit integer.
    public static func integer(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard let (negative, start) = sign(bytes) else { return nil }
        var index = start
        let count = bytes.count
        guard index < count else { return nil }
        var value: Int64 = 0
        while index < count {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (next, overflow2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = next
            index += 1
        }
        return value
    }

    /// Whether the number is negative, and where its digits start; nil for no bytes at all.
    private static func sign(_ bytes: UnsafeRawBufferPointer) -> (negative: Bool, start: Int)? {
        guard let first = bytes.first else { return nil }
        if first == UInt8(ascii: "-") { return (true, 1) }
        if first == UInt8(ascii: "+") { return (false, 1) }
        return (false, 0)
    }

    private static func fallback(_ bytes: UnsafeRawBufferPointer) -> Double? {
        // Double("nan") and Double("inf") parse; devices never mean them.
        guard let value = Double(String(decoding: bytes, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }
}
