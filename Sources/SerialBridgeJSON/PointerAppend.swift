/// Zeros to grow an array by with one copy (``Swift/Array/appendWriting(upTo:_:)``).
private let zeroBytes = [UInt8](repeating: 0, count: 4096)

extension Array where Element == UInt8 {
    /// Appends what `write` writes through the pointer it is given: room for `bound` bytes, of
    /// which it returns how many it used (at most `bound`). For messages laid out fragment by
    /// fragment on the hot path: one append and one trim, where appending each fragment would
    /// cost a capacity and uniqueness check apiece.
    public mutating func appendWriting(upTo bound: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        let start = count
        if bound <= zeroBytes.count {
            zeroBytes.withUnsafeBufferPointer { append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<bound])) }
        } else {
            append(contentsOf: repeatElement(0, count: bound))
        }
        let written = withUnsafeMutableBufferPointer { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return write(base + start)
        }
        // Past the bound the heap is already overwritten: stop rather than carry on.
        precondition(written >= 0 && written <= bound, "wrote \(written) bytes into room for \(bound)")
        removeLast(bound - written)
    }
}

/// A cursor writing through a pointer into room reserved by ``Swift/Array/appendWriting(upTo:_:)``.
/// The caller has made sure of the room: nothing is checked here.
public struct PointerCursor {
    /// Where the next byte goes.
    public private(set) var position: UnsafeMutablePointer<UInt8>

    /// Starts writing at `start`.
    public init(_ start: UnsafeMutablePointer<UInt8>) {
        position = start
    }

    /// Copies `fragment`.
    public mutating func raw(_ fragment: [UInt8]) {
        fragment.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return }
            position.update(from: base, count: source.count)
            position += source.count
        }
    }

    /// Copies `fragment`.
    public mutating func raw(_ fragment: UnsafeBufferPointer<UInt8>) {
        guard let base = fragment.baseAddress else { return }
        position.update(from: base, count: fragment.count)
        position += fragment.count
    }

    /// Writes an integer (at most ``NumberText/maxLength`` bytes).
    public mutating func integer(_ value: Int64) {
        position += NumberText.write(value, to: position)
    }

    /// Writes a float as ``JSONWriter/float(_:)`` does (at most ``NumberText/maxLength`` bytes).
    public mutating func float(_ value: Double) {
        position += NumberText.write(value, to: position)
    }

    /// Writes `text` as a JSON string when it needs no escaping and its UTF-8 is at most
    /// `limit - 2` bytes; false, with nothing written, otherwise.
    public mutating func plainString(_ text: String, limit: Int) -> Bool {
        var text = text
        return text.withUTF8 { utf8 in
            guard utf8.count + 2 <= limit else { return false }
            for byte in utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
            byte(0x22)
            raw(utf8)
            byte(0x22)
            return true
        }
    }

    /// Writes one byte.
    public mutating func byte(_ value: UInt8) {
        position.pointee = value
        position += 1
    }
}
