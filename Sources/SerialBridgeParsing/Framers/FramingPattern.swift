/// A short byte sequence (sync header, delimiter) matched in a stream one byte at a time.
///
/// Matching is Knuth–Morris–Pratt, so a pattern that overlaps itself (`AA AB` in `AA AA AB`) is
/// still found, and the state is one integer that carries over chunk boundaries.
struct FramingPattern: Sendable, Hashable {
    /// The bytes to find; never empty.
    let bytes: [UInt8]
    // failure[i]: length of the longest proper prefix of bytes[0...i] that is also its suffix.
    private let failure: [Int]

    init(_ bytes: [UInt8]) {
        precondition(!bytes.isEmpty, "validated by the configuration")
        self.bytes = bytes
        var failure = [Int](repeating: 0, count: bytes.count)
        var length = 0
        for index in bytes.indices.dropFirst() {
            while length > 0 && bytes[index] != bytes[length] { length = failure[length - 1] }
            if bytes[index] == bytes[length] { length += 1 }
            failure[index] = length
        }
        self.failure = failure
    }

    /// Pattern length in bytes.
    var count: Int { bytes.count }

    /// The number of pattern bytes matched after `byte`, given `state` matched before it. Reaching
    /// ``count`` means a whole match; callers reset the state to 0 after one.
    func advance(_ state: Int, _ byte: UInt8) -> Int {
        var matched = state == bytes.count ? failure[state - 1] : state
        while matched > 0 && bytes[matched] != byte { matched = failure[matched - 1] }
        return bytes[matched] == byte ? matched + 1 : matched
    }

    /// The first index from `start` where the whole pattern begins, or where a prefix of it runs
    /// to the end of `buffer` (more bytes are needed to tell); `buffer.count` when there is neither.
    /// Costs O(n × pattern length) at worst, O(n) on typical input.
    func firstCandidate(in buffer: UnsafeRawBufferPointer, from start: Int) -> Int {
        let first = bytes[0]
        let end = buffer.count
        var position = start
        while position < end {
            if buffer[position] == first {
                var matched = 1
                while matched < bytes.count && position + matched < end && buffer[position + matched] == bytes[matched] {
                    matched += 1
                }
                if matched == bytes.count || position + matched == end { return position }
            }
            position += 1
        }
        return end
    }
}
