import SerialBridgeJSON

/// `framing.type = "line"`: frames that end at a terminator (default `\n`); a `\r` just before it is dropped, so CRLF and LF
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
    // Stream offset of the first byte of `pending`.
    private var pendingOffset: UInt64 = 0

    /// Creates a line framer.
    public init(terminator: [UInt8] = [0x0A], maxLength: Int = 1024) {
        precondition(!terminator.isEmpty, "validated by the profile loader")
        self.terminator = terminator
        self.maxLength = maxLength
        pending.reserveCapacity(min(maxLength, 4096) + terminator.count)
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: UInt64, _ sink: (FramerEvent) -> Void) {
        let base = counters.bytes
        counters.bytes &+= UInt64(bytes.count)
        if terminator.count == 1 {
            feedSingleByteTerminator(bytes, base: base, terminator[0], sink)
        } else {
            for (index, byte) in bytes.enumerated() { feedMultiByte(byte, at: base + UInt64(index), sink) }
        }
    }

    /// The common case, scanned a chunk at a time; frames inside the chunk are passed without copying.
    private mutating func feedSingleByteTerminator(
        _ bytes: UnsafeRawBufferPointer, base: UInt64, _ end: UInt8, _ sink: (FramerEvent) -> Void
    ) {
        var start = 0
        var index = 0
        let count = bytes.count
        while index < count {
            if bytes[index] == end {
                let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                if pending.isEmpty && !discarding {
                    emit(piece, offset: base + UInt64(start), sink)
                } else {
                    append(piece, at: base + UInt64(start))
                    finishPending(sink)
                }
                start = index + 1
            }
            index += 1
        }
        if start < count { append(UnsafeRawBufferPointer(rebasing: bytes[start..<count]), at: base + UInt64(start)) }
    }

    private mutating func feedMultiByte(_ byte: UInt8, at position: UInt64, _ sink: (FramerEvent) -> Void) {
        append(CollectionOfOne(byte), at: position)
        if byte == terminator[partialTerminator] {
            partialTerminator += 1
        } else {
            partialTerminator = byte == terminator[0] ? 1 : 0
        }
        if partialTerminator == terminator.count {
            partialTerminator = 0
            if !discarding { pending.removeLast(terminator.count) }
            finishPending(sink)
        }
    }

    /// Adds bytes of an unfinished line, switching to discard mode once it is too long.
    private mutating func append(_ bytes: some Collection<UInt8>, at position: UInt64) {
        if pending.isEmpty && !discarding { pendingOffset = position }
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

    private mutating func finishPending(_ sink: (FramerEvent) -> Void) {
        if discarding {
            discarding = false
            counters.oversizeFrames &+= 1
            sink(.rejected(reason: "oversize frame (over \(maxLength) bytes)", offset: pendingOffset))
            return
        }
        let line = pending
        pending.removeAll(keepingCapacity: true)
        line.withUnsafeBytes { emit($0, offset: pendingOffset, sink) }
    }

    private mutating func emit(_ line: UnsafeRawBufferPointer, offset: UInt64, _ sink: (FramerEvent) -> Void) {
        var body = line
        if let last = body.last, last == 0x0D { body = UnsafeRawBufferPointer(rebasing: body.dropLast()) }
        if body.isEmpty {
            counters.emptyFrames &+= 1
            return
        }
        if body.count > maxLength {
            counters.oversizeFrames &+= 1
            counters.discardedBytes &+= UInt64(line.count)
            sink(.rejected(reason: "oversize frame (over \(maxLength) bytes)", offset: offset))
            return
        }
        counters.frames &+= 1
        sink(.frame(body, offset: offset))
    }
}

/// Settings of ``LineFramer``: `terminator` (default `"\n"`) and `maxLength` (default 1024).
public struct LineFraming: FramerConfiguration, Hashable {
    public static let type = "line"
    /// End-of-frame bytes.
    public var terminator: [UInt8]
    /// Longest frame kept.
    public var maxLength: Int

    /// Creates settings.
    public init(terminator: [UInt8] = [0x0A], maxLength: Int = 1024) {
        self.terminator = terminator
        self.maxLength = maxLength
    }

    public init?(reading section: inout JSONObjectReader) {
        let terminator = Array((section.string("terminator") ?? "\n").utf8)
        if terminator.isEmpty { section.fail(key: "terminator", "must not be empty") }
        let maxLength = section.integer("maxLength", in: 1...1_048_576) ?? 1024
        guard !terminator.isEmpty else { return nil }
        self.init(terminator: terminator, maxLength: maxLength)
    }

    public func makeFramer() -> any Framer { LineFramer(terminator: terminator, maxLength: maxLength) }
}
