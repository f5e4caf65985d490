/// JSON number text written straight into memory: what ``JSONWriter`` appends for integers and
/// floats, for encoders that lay out a whole message through one pointer. The forms are
/// `description`'s (a test holds every path to it), without building a String.
public enum NumberText {
    /// The longest text either writer produces: a Double's `description` such as
    /// `-2.2250738585072014e-308` is 24 bytes; an Int64 at most 20.
    public static let maxLength = 32

    /// Writes `value` at `target` (room for ``maxLength`` bytes); returns the bytes written.
    public static func write(_ value: Int64, to target: UnsafeMutablePointer<UInt8>) -> Int {
        let negative = value < 0
        let length = digitCount(value.magnitude) + (negative ? 1 : 0)
        if negative { target.pointee = UInt8(ascii: "-") }
        writeDigits(value.magnitude, endingAt: target + length)
        return length
    }

    /// Writes `value` at `target` (room for ``maxLength`` bytes) as `description` does, `null`
    /// for NaN and infinities, which JSON cannot carry; returns the bytes written.
    public static func write(_ value: Double, to target: UnsafeMutablePointer<UInt8>) -> Int {
        guard value.isFinite else { return copy("null", to: target) }
        guard let (digits, decimals) = shortDecimal(value.magnitude) else {
            var text = value.description
            return text.withUTF8 { utf8 in
                let count = min(utf8.count, maxLength)
                if let base = utf8.baseAddress { target.update(from: base, count: count) }
                return count
            }
        }
        let divisor = powersOfTen[decimals]
        let whole = digits / divisor
        let fractionLength = max(decimals, 1)
        let negative = value < 0
        let length = (negative ? 1 : 0) + digitCount(whole) + 1 + fractionLength
        if negative { target.pointee = UInt8(ascii: "-") }
        // The fraction (at least one digit: `.0`), the point, the integer part.
        var start = target + length
        let fractionStart = start - fractionLength
        let fraction = digits % divisor
        writeDigits(fraction, endingAt: start)
        pad(from: fractionStart, to: start - digitCount(fraction))
        start = fractionStart - 1
        start.pointee = UInt8(ascii: ".")
        writeDigits(whole, endingAt: start)
        return length
    }

    /// The decimal `digits × 10^-decimals` that `description` prints for `magnitude` when it has
    /// at most 15 significant digits and lies in [1e-4, 1e15), which covers nearly every sensor
    /// reading; nil otherwise. It takes the fewest decimals `k` for which `m / 10^k`, with `m`
    /// the nearest integer to `magnitude × 10^k`, gives `magnitude` back: `m` and `10^k` are exact
    /// doubles and the division is correctly rounded, exactly as parsing the digits is, so the
    /// text round-trips; below 10^15 decimals of `k` places lie over four ulps apart, so no other
    /// `m` could, and fewer decimals means fewer digits: the shortest form, as `description` has.
    static func shortDecimal(_ magnitude: Double) -> (digits: UInt64, decimals: Int)? {
        guard magnitude >= 1e-4, magnitude < 1e15 else { return nil }
        var scale = 1.0
        for decimals in 0...19 {
            let scaled = magnitude * scale
            guard scaled < 1e15 else { return nil }
            let nearest = scaled.rounded()
            if nearest / scale == magnitude { return (UInt64(nearest), decimals) }
            scale *= 10
        }
        return nil
    }

    /// 10^0 ... 10^19, every power of ten a UInt64 holds.
    private static let powersOfTen: [UInt64] = (0...19).reduce(into: []) { powers, _ in powers.append(powers.last.map { $0 * 10 } ?? 1) }

    /// "00" "01" ... "99": two digits per division.
    private static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

    /// Decimal digits of `value` (1 for 0).
    static func digitCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value
        while rest >= 10_000 {
            rest /= 10_000
            count += 4
        }
        if rest >= 10 { count += 1 }
        if rest >= 100 { count += 1 }
        if rest >= 1_000 { count += 1 }
        return count
    }

    /// Writes the digits of `value` so that they end just before `end`.
    private static func writeDigits(_ value: UInt64, endingAt end: UnsafeMutablePointer<UInt8>) {
        let pairs = digitPairs.utf8Start
        var rest = value
        var start = end
        while rest >= 100 {
            let pair = Int(rest % 100) * 2
            rest /= 100
            start -= 2
            start[0] = pairs[pair]
            start[1] = pairs[pair + 1]
        }
        if rest >= 10 {
            start -= 2
            start[0] = pairs[Int(rest) * 2]
            start[1] = pairs[Int(rest) * 2 + 1]
        } else {
            start -= 1
            start.pointee = UInt8(ascii: "0") + UInt8(rest)
        }
    }

    /// Fills `start ..< end` with `0` digits (the leading zeros of a fraction).
    private static func pad(from start: UnsafeMutablePointer<UInt8>, to end: UnsafeMutablePointer<UInt8>) {
        var cursor = start
        while cursor < end {
            cursor.pointee = UInt8(ascii: "0")
            cursor += 1
        }
    }

    private static func copy(_ text: StaticString, to target: UnsafeMutablePointer<UInt8>) -> Int {
        target.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        return text.utf8CodeUnitCount
    }
}
