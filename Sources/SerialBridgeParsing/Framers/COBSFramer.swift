import SerialBridgeJSON

/// `framing.type = "cobs"`: Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999). Frames are
/// separated by `00`; each is COBS-encoded, so it holds no zero, and is delivered decoded:
/// `03 11 22 02 33 00` becomes the frame `11 22 00 33`.
///
/// Decoding: a code byte `n` (1–255) is followed by `n - 1` data bytes; a zero follows them unless
/// `n` is 255 or they end the frame.
///
/// - Consecutive `00` separators, and a frame that decodes to no bytes (`01 00`), are skipped and
///   counted in `emptyFrames`.
/// - A code byte pointing past the frame's end (the separator comes before its data bytes are all
///   there) rejects the frame as `invalid COBS encoding`. A zero inside a frame cannot occur: it is
///   the separator, so it ends (and here invalidates) the frame, and the next frame is read normally.
/// - A frame whose decoded data would pass ``maxLength`` is rejected (`oversize frame (over N
///   bytes)`) as soon as it does, and dropped up to the next `00`.
///
/// Bytes before the first `00` are read as a frame like any other, so a device that sends no
/// leading separator loses nothing and a fragment caught mid-frame is usually rejected as invalid.
/// Offsets are those of a frame's first (code) byte. A rejected frame's bytes count in
/// `discardedBytes` once its separator arrives; each rejection counts one resync.
///
/// Cost: a frame of one COBS block (no zero in its data and fewer than 254 bytes) that lies inside
/// one chunk is passed without copying; otherwise its decoded bytes are copied once into a buffer
/// of at most `maxLength` bytes.
public struct COBSFramer: Framer {
    /// Longest decoded frame kept.
    public let maxLength: Int
    /// What the framer has seen so far.
    public private(set) var counters = FramerCounters()

    // Decoded bytes of a frame begun in an earlier read or of several blocks; at most `maxLength`.
    private var buffer: [UInt8] = []
    // Data bytes still to come in the current block; 0 means the next byte is a code byte.
    private var blockRemaining = 0
    // The current block implies a zero, written once another block follows.
    private var zeroOwed = false
    // A code byte of the current frame was read.
    private var started = false
    // The current frame was rejected; its bytes are dropped up to the next separator.
    private var discarding = false
    // Stream offset of the current frame's first byte.
    private var frameOffset: UInt64 = 0

    /// Creates a COBS framer.
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
        // Where the data of the frame's single block so far begins in `bytes`; nil once the
        // decoded frame lives in `buffer` (or before the frame's first code byte).
        var direct: Int?
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            index += 1
            if byte == 0 {
                let position = base + UInt64(index - 1)
                if !discarding && blockRemaining > 0 { reject("invalid COBS encoding", sink) }
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
                blockRemaining = 0
                zeroOwed = false
                started = false
                discarding = false
                frameOffset = position + 1
                direct = nil
                continue
            }
            if discarding { continue }
            if blockRemaining > 0 {
                blockRemaining -= 1
                if direct == nil { buffer.append(byte) }
            } else {
                // A code byte.
                if !started && buffer.isEmpty {
                    direct = index
                } else {
                    if let start = direct {
                        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index - 1]))
                        direct = nil
                    }
                    if zeroOwed { buffer.append(0) }
                }
                started = true
                blockRemaining = Int(byte) - 1
                zeroOwed = byte != 0xFF
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

/// Settings of ``COBSFramer``: `maxLength` (decoded bytes, default 1024).
public struct COBSFraming: FramerConfiguration, Hashable {
    /// `"cobs"`.
    public static let type = "cobs"
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

    /// A fresh ``COBSFramer``.
    public func makeFramer() -> any Framer { COBSFramer(maxLength: maxLength) }
}
