/// Appends compact JSON to a byte array. Deterministic: keys come out in the order written, numbers
/// in Swift's shortest round-trip form, so encoder output can be compared byte for byte.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]
    // One bit per open container (bit 0 is the top level): set when the next value needs a comma.
    // A bit stack instead of an array keeps the writer free of a second heap allocation.
    private var commaBits: UInt64 = 0
    private var depth = 0

    /// Starts an empty document, reserving `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Runs `body` with a writer that appends to `bytes` (without copying them): for fragments
    /// of a message written into a caller's buffer.
    public static func append(to bytes: inout [UInt8], _ body: (inout JSONWriter) -> Void) {
        var writer = JSONWriter(capacity: 0)
        swap(&writer.bytes, &bytes)
        body(&writer)
        swap(&writer.bytes, &bytes)
    }

    /// Opens an object (as a value).
    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        push()
    }

    /// Closes the innermost object.
    public mutating func endObject() {
        pop()
        bytes.append(UInt8(ascii: "}"))
    }

    /// Opens an array (as a value).
    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        push()
    }

    /// Closes the innermost array.
    public mutating func endArray() {
        pop()
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes an object key; the next call writes its value.
    public mutating func key(_ key: String) {
        separate()
        appendString(key)
        bytes.append(UInt8(ascii: ":"))
        commaBits &= ~(1 << UInt64(depth))
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        separate()
        appendString(value)
    }

    /// Writes an integer value.
    public mutating func integer(_ value: Int64) {
        separate()
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        // Digits are produced backwards into a small stack buffer, then copied in order.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var index = 20
            repeat {
                index -= 1
                digits[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[index..<20]))
        }
    }

    /// Writes a floating-point value; NaN and infinities, which JSON cannot carry, become `null`.
    public mutating func float(_ value: Double) {
        separate()
        if !value.isFinite {
            bytes.append(contentsOf: "null".utf8)
        } else if !appendShortDecimal(value) {
            bytes.append(contentsOf: value.description.utf8)
        }
    }

    /// Writes `value` as `description` would when it has at most 15 significant digits and a
    /// magnitude in [1e-4, 1e15), which covers nearly every sensor reading; false (nothing
    /// written) otherwise. It finds the fewest decimals `k` for which `m / 10^k` with `m` the
    /// nearest integer to `value × 10^k` gives `value` back: `m` and `10^k` are exact doubles and
    /// the division is correctly rounded, exactly as parsing the digits is, so the text round-trips;
    /// below 10^15 decimals of `k` places are over four ulps apart, so no other `m` could, and
    /// fewer decimals means fewer digits: the shortest form, as `description` prints it. Saves
    /// building a String per value on the hot path.
    private mutating func appendShortDecimal(_ value: Double) -> Bool {
        let magnitude = value.magnitude
        guard magnitude >= 1e-4, magnitude < 1e15 else { return false }
        var scale = 1.0
        for decimals in 0...19 {
            let scaled = magnitude * scale
            guard scaled < 1e15 else { return false }
            let nearest = scaled.rounded()
            if nearest / scale == magnitude {
                appendDecimal(UInt64(nearest), decimals: decimals, negative: value < 0)
                return true
            }
            scale *= 10
        }
        return false
    }

    /// Writes `digits × 10^-decimals` in plain notation, `.0` after an integer.
    private mutating func appendDecimal(_ digits: UInt64, decimals: Int, negative: Bool) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { buffer in
            var index = 48
            var rest = digits
            var written = 0
            // Fraction digits (at least one: `.0`), then the point, then the integer part.
            repeat {
                index -= 1
                buffer[index] = decimals == 0 ? UInt8(ascii: "0") : UInt8(ascii: "0") + UInt8(rest % 10)
                if decimals > 0 { rest /= 10 }
                written += 1
            } while written < max(decimals, 1)
            index -= 1
            buffer[index] = UInt8(ascii: ".")
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            if negative {
                index -= 1
                buffer[index] = UInt8(ascii: "-")
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[index..<48]))
        }
    }

    /// Writes a boolean value.
    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Appends bytes that are already valid JSON in this position (pre-encoded fragments, ending
    /// in a key or an opening bracket). The next value written follows them without a comma.
    public mutating func raw(_ fragment: [UInt8]) {
        // Through a pointer: appending the array itself retains and releases it, per fragment.
        fragment.withUnsafeBufferPointer { bytes.append(contentsOf: $0) }
        commaBits &= ~(1 << UInt64(depth))
    }

    /// ``raw(_:)`` for a slice; concrete rather than generic so that it is fast across modules.
    public mutating func raw(_ fragment: ArraySlice<UInt8>) {
        fragment.withUnsafeBufferPointer { bytes.append(contentsOf: $0) }
        commaBits &= ~(1 << UInt64(depth))
    }

    /// Writes one complete, already-encoded JSON value (a stored object, say) where a value goes:
    /// unlike ``raw(_:)`` it is separated by commas like any other value.
    public mutating func rawValue(_ value: some StringProtocol) {
        separate()
        bytes.append(contentsOf: value.utf8)
    }

    /// Writes `null`.
    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    /// Writes any node.
    public mutating func node(_ node: JSONNode) {
        switch node {
        case .null: null()
        case .bool(let value): bool(value)
        case .integer(let value): integer(value)
        case .float(let value): float(value)
        case .string(let value): string(value)
        case .array(let items):
            beginArray()
            for item in items { self.node(item) }
            endArray()
        case .object(let pairs):
            beginObject()
            for (name, value) in pairs {
                key(name)
                self.node(value)
            }
            endObject()
        }
    }

    private mutating func separate() {
        let bit: UInt64 = 1 << UInt64(depth)
        if commaBits & bit != 0 { bytes.append(UInt8(ascii: ",")) }
        commaBits |= bit
    }

    private mutating func push() {
        // Deeper than 63 levels only loses comma tracking; protocol documents nest 3 deep.
        depth = min(depth + 1, 63)
        commaBits &= ~(1 << UInt64(depth))
    }

    private mutating func pop() {
        depth = max(depth - 1, 0)
    }

    private mutating func appendString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        // Fast path: no byte needs escaping, append the UTF-8 storage in one go.
        let copied = string.withUTF8 { utf8 -> Bool in
            for byte in utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in string.utf8 {
            switch byte {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
