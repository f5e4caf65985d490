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
        appendNumber { NumberText.write(value, to: $0) }
    }

    /// Writes a floating-point value; NaN and infinities, which JSON cannot carry, become `null`.
    public mutating func float(_ value: Double) {
        separate()
        appendNumber { NumberText.write(value, to: $0) }
    }

    private mutating func appendNumber(_ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: NumberText.maxLength) { buffer in
            guard let base = buffer.baseAddress else { return }
            bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: write(base)))
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
