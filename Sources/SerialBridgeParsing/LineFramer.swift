/// Frames that end at a terminator (default `\n`); a `\r` just before it is dropped, so CRLF and LF
/// devices both work. Blank lines are counted and skipped. A line longer than `maxLength` is
/// discarded up to its terminator and counted, so one runaway line costs one reading, never memory.
public struct LineFramer: Framer {
    /// The terminator bytes.
    public let terminator: [UInt8]
    /// Longest line kept, excluding the terminator.
    public let maxLength: Int
    public private(set) var counters = FramerCounters()

    private var pending: [UInt8] = []
    private var discarding = false
    // How many bytes of a multi-byte terminator matched at the end of the previous chunk.
    private var partialTerminator = 0

    /// Creates a line framer.
    public init(terminator: [UInt8] = [0x0A], maxLength: Int = 1024) {
        precondition(!terminator.isEmpty, "validated by the profile loader")
        self.terminator = terminator
        self.maxLength = maxLength
        pending.reserveCapacity(min(maxLength, 4096) + terminator.count)
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, onFrame: (UnsafeRawBufferPointer) -> Void) {
        counters.bytes &+= UInt64(bytes.count)
        if terminator.count == 1 {
            feedSingleByteTerminator(bytes, terminator[0], onFrame: onFrame)
        } else {
            for byte in bytes { feedMultiByte(byte, onFrame: onFrame) }
        }
    }

    /// The common case, scanned a chunk at a time; frames inside the chunk are passed without copying.
    private mutating func feedSingleByteTerminator(
        _ bytes: UnsafeRawBufferPointer, _ end: UInt8, onFrame: (UnsafeRawBufferPointer) -> Void
    ) {
        var start = 0
        var index = 0
        let count = bytes.count
        while index < count {
            if bytes[index] == end {
                let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                if pending.isEmpty && !discarding {
                    emit(piece, onFrame: onFrame)
                } else {
                    append(piece)
                    finishPending(onFrame: onFrame)
                }
                start = index + 1
            }
            index += 1
        }
        if start < count { append(UnsafeRawBufferPointer(rebasing: bytes[start..<count])) }
    }

    private mutating func feedMultiByte(_ byte: UInt8, onFrame: (UnsafeRawBufferPointer) -> Void) {
        append(CollectionOfOne(byte))
        if byte == terminator[partialTerminator] {
            partialTerminator += 1
        } else {
            partialTerminator = byte == terminator[0] ? 1 : 0
        }
        if partialTerminator == terminator.count {
            partialTerminator = 0
            if !discarding { pending.removeLast(terminator.count) }
            finishPending(onFrame: onFrame)
        }
    }

    /// Adds bytes of an unfinished line, switching to discard mode once it is too long.
    private mutating func append(_ bytes: some Collection<UInt8>) {
        if discarding {
            counters.discardedBytes &+= UInt64(bytes.count)
            return
        }
        // Allow room for a trailing CR and a partly matched terminator before calling it oversize.
        if pending.count + bytes.count > maxLength + terminator.count {
            counters.discardedBytes &+= UInt64(pending.count + bytes.count)
            pending.removeAll(keepingCapacity: true)
            discarding = true
            return
        }
        pending.append(contentsOf: bytes)
    }

    private mutating func finishPending(onFrame: (UnsafeRawBufferPointer) -> Void) {
        if discarding {
            discarding = false
            counters.oversizeFrames &+= 1
            return
        }
        let line = pending
        pending.removeAll(keepingCapacity: true)
        line.withUnsafeBytes { emit($0, onFrame: onFrame) }
    }

    private mutating func emit(_ line: UnsafeRawBufferPointer, onFrame: (UnsafeRawBufferPointer) -> Void) {
        var body = line
        if let last = body.last, last == 0x0D { body = UnsafeRawBufferPointer(rebasing: body.dropLast()) }
        if body.isEmpty {
            counters.emptyFrames &+= 1
            return
        }
        if body.count > maxLength {
            counters.oversizeFrames &+= 1
            counters.discardedBytes &+= UInt64(line.count)
            return
        }
        counters.frames &+= 1
        onFrame(body)
    }
}
