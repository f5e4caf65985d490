import SerialBridgeJSON

/// `framing.type = "delimited"`: frames between a ``start`` and an ``end`` delimiter, with an
/// optional ``escape`` byte, as HDLC-like and STX/ETX protocols send them. The delivered frame
/// excludes both delimiters and has its escapes removed.
///
/// - Without `start`, a frame is everything between two `end` delimiters.
/// - With `start` different from `end`, bytes outside `start`…`end` are garbage: dropped and
///   reported once per run as `no start delimiter`. A `start` inside a frame begins a new frame; the
///   interrupted one is rejected as `unterminated frame`, so one lost `end` costs one frame.
/// - With `start` equal to `end` (HDLC flags), one flag closes a frame and opens the next; only bytes
///   before the first flag are garbage, and consecutive flags are idle fill.
/// - `escape`: the byte after it is taken as data, XORed with ``escapeXOR`` (0 keeps it as is), and
///   never ends a frame. With a non-zero XOR, an escape directly followed by the first byte of
///   `start` or `end` is an abort (`invalid escape sequence`), and that byte is read as a delimiter.
///
/// A frame with no content is skipped and counted in `emptyFrames`. A frame whose content would pass
/// ``maxLength`` is rejected as `oversize frame (over N bytes)` as soon as it does, and the rest of it
/// is dropped up to its end delimiter. Frame and rejection offsets are those of the frame's first
/// byte: its start delimiter, or its first content byte when there is no `start`. A rejected frame's
/// bytes (start delimiter and content, not the end delimiter) count in `discardedBytes` once its end is
/// found; garbage counts as it is recognised. Each rejection counts one resync.
///
/// Cost: a frame without escapes that lies inside one chunk is passed without copying; otherwise its
/// content is copied once into a buffer of at most `maxLength` plus one delimiter's length.
public struct DelimiterFramer: Framer {
    /// Bytes that open a frame; nil when frames are only ended.
    public let start: [UInt8]?
    /// Bytes that end a frame.
    public let end: [UInt8]
    /// The escape byte, if the protocol has one.
    public let escape: UInt8?
    /// XORed onto the byte after an escape (0x20 for HDLC; 0 takes it literally).
    public let escapeXOR: UInt8
    /// Longest frame content kept, after escapes are removed.
    public let maxLength: Int
    /// What the framer has seen so far.
    public private(set) var counters = FramerCounters()

    private enum Phase: Sendable { case hunting, collecting, discarding }

    private let endPattern: FramingPattern
    // What hunting looks for: `start`.
    private let openPattern: FramingPattern?
    // A `start` different from `end`, which interrupts a frame.
    private let interruptPattern: FramingPattern?
    // `start == end`: the closing flag opens the next frame.
    private let sharedFlag: Bool
    private var phase: Phase
    // Content of a frame begun in an earlier read or holding escapes, including bytes that may turn
    // out to be a delimiter. At most `maxLength` plus a delimiter's length.
    private var buffer: [UInt8] = []
    private var escapePending = false
    private var endMatch = 0
    private var startMatch = 0
    // Stream offset of the current frame's first byte.
    private var frameOffset: UInt64 = 0
    // Hunting: where this hunt began and how much of it was already counted as garbage.
    private var huntOffset: UInt64 = 0
    private var huntGarbage: UInt64 = 0

    /// Creates a delimiter framer.
    /// - Precondition: `start` (if any) and `end` are not empty, and `escape` is none of their
    ///   bytes (the profile loader validates both).
    public init(start: [UInt8]? = nil, end: [UInt8], escape: UInt8? = nil, escapeXOR: UInt8 = 0, maxLength: Int = 1024) {
        precondition(!end.isEmpty && start?.isEmpty != true, "validated by the profile loader")
        if let escape { precondition(!end.contains(escape) && start?.contains(escape) != true, "validated by the profile loader") }
        self.start = start
        self.end = end
        self.escape = escape
        self.escapeXOR = escapeXOR
        self.maxLength = maxLength
        endPattern = FramingPattern(end)
        openPattern = start.map(FramingPattern.init)
        sharedFlag = start == end
        interruptPattern = sharedFlag ? nil : openPattern
        phase = start == nil ? .collecting : .hunting
        buffer.reserveCapacity(min(maxLength, 4096) + end.count)
    }

    /// Bytes held for a frame that spans reads: never more than ``maxLength`` plus the longer
    /// delimiter's length.
    public var bufferedBytes: Int { buffer.count }

    /// Feeds the next bytes; `time` is ignored. Calls `sink` for every frame and rejection, in
    /// stream order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: UInt64, _ sink: (FramerEvent) -> Void) {
        let base = counters.bytes
        counters.bytes &+= UInt64(bytes.count)
        // Where the current frame's content begins in `bytes`, while it is there unescaped and
        // uncopied; nil once it lives in `buffer`.
        var direct: Int? = phase == .collecting && buffer.isEmpty && !escapePending ? 0 : nil
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            let position = base + UInt64(index)
            index += 1
            if phase == .hunting {
                hunt(byte, at: position, sink)
                if phase == .collecting { direct = index }
                continue
            }
            if escapePending {
                escapePending = false
                if escapeXOR == 0 || !isDelimiterLead(byte) {
                    if phase == .collecting {
                        buffer.append(byte ^ escapeXOR)
                        checkLength(contentCount: buffer.count, sink)
                    }
                    continue
                }
                if phase == .collecting { reject("invalid escape sequence", sink) }
                direct = nil
                // The aborting byte is read below as a raw byte: it may start a delimiter.
            } else if let escape, byte == escape {
                if phase == .collecting, let start = direct {
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index - 1]))
                    direct = nil
                }
                escapePending = true
                endMatch = 0
                startMatch = 0
                continue
            }
            endMatch = endPattern.advance(endMatch, byte)
            if let interruptPattern { startMatch = interruptPattern.advance(startMatch, byte) }
            if phase == .collecting, direct == nil { buffer.append(byte) }
            let contentCount = direct.map { index - $0 } ?? buffer.count
            if endMatch == endPattern.count {
                let delimiterStart = position + 1 - UInt64(end.count)
                if phase == .collecting {
                    let length = contentCount - end.count
                    if length == 0 {
                        counters.emptyFrames &+= 1
                    } else if let start = direct {
                        counters.frames &+= 1
                        sink(.frame(UnsafeRawBufferPointer(rebasing: bytes[start..<start + length]), offset: frameOffset))
                    } else {
                        counters.frames &+= 1
                        let offset = frameOffset
                        buffer.withUnsafeBytes { sink(.frame(UnsafeRawBufferPointer(rebasing: $0[0..<length]), offset: offset)) }
                    }
                } else {
                    counters.discardedBytes &+= delimiterStart - frameOffset
                }
                if sharedFlag {
                    beginFrame(at: delimiterStart)
                    direct = index
                } else if start == nil {
                    beginFrame(at: position + 1)
                    direct = index
                } else {
                    beginHunt(at: position + 1)
                    direct = nil
                }
            } else if let interruptPattern, startMatch == interruptPattern.count {
                let delimiterStart = position + 1 - UInt64(interruptPattern.count)
                if phase == .collecting { reject("unterminated frame", sink) }
                counters.discardedBytes &+= delimiterStart - frameOffset
                beginFrame(at: delimiterStart)
                direct = index
            } else if phase == .collecting {
                // Bytes that may still turn out to be a delimiter are not content yet.
                if contentCount - max(endMatch, startMatch) > maxLength {
                    counters.oversizeFrames &+= 1
                    reject("oversize frame (over \(maxLength) bytes)", sink)
                    direct = nil
                }
            }
        }
        if phase == .collecting, let start = direct {
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<count]))
        }
    }

    private func isDelimiterLead(_ byte: UInt8) -> Bool {
        byte == end[0] || byte == start?.first
    }

    /// Looks for `start`; bytes that can no longer be part of it are garbage.
    private mutating func hunt(_ byte: UInt8, at position: UInt64, _ sink: (FramerEvent) -> Void) {
        guard let openPattern else { return }
        startMatch = openPattern.advance(startMatch, byte)
        let matched = startMatch == openPattern.count
        let garbageEnd = position + 1 - UInt64(startMatch)
        if garbageEnd - huntOffset > huntGarbage {
            if huntGarbage == 0 {
                counters.resyncs &+= 1
                sink(.rejected(reason: "no start delimiter", offset: huntOffset))
            }
            counters.discardedBytes &+= garbageEnd - huntOffset - huntGarbage
            huntGarbage = garbageEnd - huntOffset
        }
        if matched { beginFrame(at: garbageEnd) }
    }

    /// An oversize frame or an escape abort: report it and drop the rest of the frame.
    private mutating func reject(_ reason: String, _ sink: (FramerEvent) -> Void) {
        counters.resyncs &+= 1
        sink(.rejected(reason: reason, offset: frameOffset))
        buffer.removeAll(keepingCapacity: true)
        phase = .discarding
    }

    private mutating func beginFrame(at offset: UInt64) {
        phase = .collecting
        frameOffset = offset
        buffer.removeAll(keepingCapacity: true)
        escapePending = false
        endMatch = 0
        startMatch = 0
    }

    private mutating func beginHunt(at offset: UInt64) {
        phase = .hunting
        huntOffset = offset
        huntGarbage = 0
        buffer.removeAll(keepingCapacity: true)
        escapePending = false
        endMatch = 0
        startMatch = 0
    }

    private mutating func checkLength(contentCount: Int, _ sink: (FramerEvent) -> Void) {
        guard contentCount > maxLength else { return }
        counters.oversizeFrames &+= 1
        reject("oversize frame (over \(maxLength) bytes)", sink)
    }
}

/// Settings of ``DelimiterFramer``: `start` (optional hex), `end` (hex, required), `escape` (optional
/// object: `byte`, one hex byte, and `xor`, one hex byte, default `"00"`) and `maxLength` (default 1024).
public struct DelimiterFraming: FramerConfiguration, Hashable {
    /// `"delimited"`.
    public static let type = "delimited"
    /// Bytes that open a frame (1–16); nil when frames are only ended.
    public var start: [UInt8]?
    /// Bytes that end a frame (1–16).
    public var end: [UInt8]
    /// The escape byte, if any; none of the bytes of `start` or `end`.
    public var escape: UInt8?
    /// XORed onto the byte after an escape; 0 takes it literally.
    public var escapeXOR: UInt8
    /// Longest frame content kept, after escapes are removed.
    public var maxLength: Int

    /// Creates settings.
    public init(start: [UInt8]? = nil, end: [UInt8], escape: UInt8? = nil, escapeXOR: UInt8 = 0, maxLength: Int = 1024) {
        self.start = start
        self.end = end
        self.escape = escape
        self.escapeXOR = escapeXOR
        self.maxLength = maxLength
    }

    /// Reads `start`, `end`, `escape` and `maxLength`; records every error in `section` and returns
    /// nil when any key is invalid.
    public init?(reading section: inout JSONObjectReader) {
        let start = section.framingHex("start")
        let end = section.framingHex("end", required: true)
        var escape: UInt8?
        var escapeXOR: UInt8 = 0
        if var object = section.framingObject("escape") {
            escape = object.framingHex("byte", required: true, count: 1...1)?.first
            escapeXOR = object.framingHex("xor", count: 1...1)?.first ?? 0
            if let escape, (end?.contains(escape) ?? false) || (start?.contains(escape) ?? false) {
                object.fail(key: "byte", "must not be a byte of start or end")
            }
            section.absorb(object)
        }
        if let start, let end, start != end, Self.contains(start, end) || Self.contains(end, start) {
            section.fail(key: "start", "must equal end or not overlap it (one appears inside the other)")
        }
        let maxLength = section.framingMaxLength()
        guard let end, section.isClean else { return nil }
        self.init(start: start, end: end, escape: escape, escapeXOR: escapeXOR, maxLength: maxLength)
    }

    /// Whether `needle` appears in `haystack`.
    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    /// A fresh ``DelimiterFramer``.
    public func makeFramer() -> any Framer {
        DelimiterFramer(start: start, end: end, escape: escape, escapeXOR: escapeXOR, maxLength: maxLength)
    }
}
