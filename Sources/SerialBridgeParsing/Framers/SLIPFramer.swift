import SerialBridgeJSON

/// `framing.type = "slip"`: Serial Line IP framing (RFC 1055). A frame ends at END (`C0`); inside
/// it, ESC (`DB`) followed by ESC_END (`DC`) stands for a `C0` data byte and ESC followed by ESC_ESC
/// (`DD`) for a `DB`. The delivered frame is the decoded data, without END.
///
/// - Consecutive ENDs (senders may start every frame with one, as RFC 1055 recommends, to flush
///   line noise) make empty frames: skipped and counted in `emptyFrames`.
/// - ESC followed by anything else (END included) rejects the frame (`invalid escape sequence`);
///   RFC 1055 suggests keeping such a byte, but a frame known to be corrupt is better dropped. The
///   rest of the frame is dropped up to the next END, which still ends it.
/// - A frame whose decoded data would pass ``maxLength`` is rejected (`oversize frame (over N
///   bytes)`) as soon as it does, and dropped up to the next END.
///
/// Bytes before the first END are read as a frame like any other: a framer started mid-frame
/// passes (or rejects) that fragment, and a device that sends no leading END loses nothing. Offsets
/// are those of a frame's first byte after the END before it. A rejected frame's bytes count in
/// `discardedBytes` once its END arrives; each rejection counts one resync.
///
/// Cost: a frame without escapes that lies inside one chunk is passed without copying; otherwise
/// its decoded bytes are copied once into a buffer of at most `maxLength` bytes.
public struct SLIPFramer: Framer {
    /// RFC 1055 END: ends a frame.
    public static let end: UInt8 = 0xC0
    /// RFC 1055 ESC: escapes the next byte.
    public static let escape: UInt8 = 0xDB
    /// RFC 1055 ESC_END: after ESC, a `C0` data byte.
    public static let escapedEnd: UInt8 = 0xDC
    /// RFC 1055 ESC_ESC: after ESC, a `DB` data byte.
    public static let escapedEscape: UInt8 = 0xDD

    /// Longest decoded frame kept.
    public let maxLength: Int
    /// What the framer has seen so far.
    public private(set) var counters = FramerCounters()

    // Decoded bytes of a frame begun in an earlier read or holding escapes; at most `maxLength`.
    private var buffer: [UInt8] = []
    private var escapePending = false
    // The current frame was rejected; its bytes are dropped up to the next END.
    private var discarding = false
    // Stream offset of the current frame's first byte.
    private var frameOffset: UInt64 = 0

    /// Creates a SLIP framer.
    public init(maxLength: Int = 1024) {
        self.maxLength = maxLength
        buffer.reserveCapacity(min(maxLength, 4096))
    }

    /// Bytes held for a frame that spans reads: never more than ``maxLength``.
    public var bufferedBytes: Int { buffer.count }

    /// Feeds the next bytes; `time` is ignored. Calls `sink` for every frame and rejection, in
    /// stream order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: UInt64, _ sink: (FramerEvent) -> Void) {
        let base = counters.bytes
        counters.bytes &+= UInt64(bytes.count)
        // Where the current frame begins in `bytes` while it is there unescaped; nil once its
        // decoded bytes live in `buffer`.
        var direct: Int? = !discarding && !escapePending && buffer.isEmpty ? 0 : nil
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            index += 1
            if byte == Self.end {
                let position = base + UInt64(index - 1)
                if escapePending { reject("invalid escape sequence", sink) }
                if discarding {
                    counters.discardedBytes &+= position - frameOffset
                } else if let start = direct {
                    emit(UnsafeRawBufferPointer(rebasing: bytes[start..<index - 1]), sink)
                } else if buffer.isEmpty {
                    counters.emptyFrames &+= 1
                } else {
                    counters.frames &+= 1
                    let offset = frameOffset
                    buffer.withUnsafeBytes { sink(.frame($0, offset: offset)) }
                }
                buffer.removeAll(keepingCapacity: true)
                discarding = false
                escapePending = false
                frameOffset = position + 1
                direct = index
                continue
            }
            if discarding { continue }
            if escapePending {
                escapePending = false
                switch byte {
                case Self.escapedEnd: buffer.append(Self.end)
                case Self.escapedEscape: buffer.append(Self.escape)
                default:
                    reject("invalid escape sequence", sink)
                    continue
                }
            } else if byte == Self.escape {
                if let start = direct {
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index - 1]))
                    direct = nil
                }
                escapePending = true
                continue
            } else if direct == nil {
                buffer.append(byte)
            }
            if (direct.map { index - $0 } ?? buffer.count) > maxLength {
                counters.oversizeFrames &+= 1
                reject("oversize frame (over \(maxLength) bytes)", sink)
                direct = nil
            }
        }
        if !discarding, let start = direct {
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<count]))
        }
    }

    private mutating func emit(_ frame: UnsafeRawBufferPointer, _ sink: (FramerEvent) -> Void) {
        if frame.isEmpty {
            counters.emptyFrames &+= 1
            return
        }
        counters.frames &+= 1
        sink(.frame(frame, offset: frameOffset))
    }

    private mutating func reject(_ reason: String, _ sink: (FramerEvent) -> Void) {
        counters.resyncs &+= 1
        sink(.rejected(reason: reason, offset: frameOffset))
        buffer.removeAll(keepingCapacity: true)
        discarding = true
    }
}

/// Settings of ``SLIPFramer``: `maxLength` (decoded bytes, default 1024).
public struct SLIPFraming: FramerConfiguration, Hashable {
    /// `"slip"`.
    public static let type = "slip"
    /// Longest decoded frame kept.
    public var maxLength: Int

    /// Creates settings.
    public init(maxLength: Int = 1024) {
        self.maxLength = maxLength
    }

    /// Reads `maxLength`; records every error in `section` and returns nil when it is invalid.
    public init?(reading section: inout JSONObjectReader) {
        let maxLength = section.framingMaxLength()
        guard section.isClean else { return nil }
        self.init(maxLength: maxLength)
    }

    /// A fresh ``SLIPFramer``.
    public func makeFramer() -> any Framer { SLIPFramer(maxLength: maxLength) }
}
