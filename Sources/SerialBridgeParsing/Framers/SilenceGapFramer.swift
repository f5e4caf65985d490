import SerialBridgeJSON

/// `framing.type = "silence-gap"`: a frame is whatever arrives between two silences of at least
/// ``gapMs`` milliseconds, as in Modbus RTU (3.5 character times) and devices that print one burst
/// per reading. The framer has no clock: it compares the arrival times it is given.
///
/// - ``feed(_:at:_:)``: when more than `gapMs` passed between the previous chunk's arrival and this
///   one's, the bytes held so far form a frame, emitted before this chunk's bytes are taken.
/// - ``flush(at:_:)``: called by the session when idle; when at least `gapMs` passed since the last
///   chunk's arrival, the bytes held so far form a frame.
///
/// Arrival times are monotonic nanoseconds; a time earlier than the previous one counts as no gap.
/// Chunks fed without a time (`feed(_:_:)`, time 0) never end a frame on their own. An empty chunk
/// changes nothing, not even the last arrival time.
///
/// A frame whose bytes would pass ``maxLength`` is rejected (`oversize frame (over N bytes)`) as
/// soon as they do; the rest of it is dropped up to the next silence. Frame and rejection offsets
/// are those of the frame's first byte; a rejected frame's bytes count in `discardedBytes` as they
/// are dropped, and each rejection counts one resync. Silence-gap framing has no garbage of its
/// own: a burst of noise between silences is a frame, for the integrity check to refuse.
///
/// Cost: a frame ends only after it has arrived (at the next read or flush), so its bytes are always
/// copied once into a buffer of at most `maxLength` bytes, allocated once.
public struct SilenceGapFramer: Framer {
    /// Silence that ends a frame, in milliseconds.
    public let gapMs: Int
    /// Longest frame kept.
    public let maxLength: Int
    /// What the framer has seen so far.
    public private(set) var counters = FramerCounters()

    private let gapNanoseconds: UInt64
    // Bytes of the current frame; at most `maxLength`.
    private var buffer: [UInt8] = []
    // The current frame was rejected; its bytes are dropped up to the next silence.
    private var discarding = false
    // Stream offset of the current frame's first byte.
    private var frameOffset: UInt64 = 0
    // Arrival time of the last non-empty chunk; nil before the first.
    private var lastArrival: UInt64?

    /// Creates a silence-gap framer.
    /// - Precondition: `gapMs >= 1` (the profile loader validates 1–10,000).
    public init(gapMs: Int, maxLength: Int = 1024) {
        precondition(gapMs >= 1, "validated by the profile loader")
        self.gapMs = gapMs
        self.maxLength = maxLength
        gapNanoseconds = UInt64(gapMs) * 1_000_000
        buffer.reserveCapacity(min(maxLength, 4096))
    }

    /// Bytes held for the frame in progress: never more than ``maxLength``.
    public var bufferedBytes: Int { buffer.count }

    /// Feeds bytes that arrived at `time` (monotonic nanoseconds). Ends the frame in progress first
    /// when the silence since the previous chunk exceeds `gapMs`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: UInt64, _ sink: (FramerEvent) -> Void) {
        guard !bytes.isEmpty else { return }
        let base = counters.bytes
        counters.bytes &+= UInt64(bytes.count)
        if let lastArrival, time > lastArrival, time - lastArrival > gapNanoseconds { endFrame(sink) }
        lastArrival = time
        if discarding {
            counters.discardedBytes &+= UInt64(bytes.count)
            return
        }
        if buffer.isEmpty { frameOffset = base }
        guard buffer.count + bytes.count <= maxLength else {
            counters.oversizeFrames &+= 1
            counters.resyncs &+= 1
            counters.discardedBytes &+= UInt64(buffer.count + bytes.count)
            buffer.removeAll(keepingCapacity: true)
            discarding = true
            sink(.rejected(reason: "oversize frame (over \(maxLength) bytes)", offset: frameOffset))
            return
        }
        buffer.append(contentsOf: bytes)
    }

    /// Ends the frame in progress when at least `gapMs` passed between the last chunk's arrival and
    /// `time`; otherwise does nothing. Safe to call as often as the session likes.
    public mutating func flush(at time: UInt64, _ sink: (FramerEvent) -> Void) {
        guard let lastArrival, time >= lastArrival, time - lastArrival >= gapNanoseconds else { return }
        endFrame(sink)
    }

    private mutating func endFrame(_ sink: (FramerEvent) -> Void) {
        if discarding {
            discarding = false
            return
        }
        guard !buffer.isEmpty else { return }
        counters.frames &+= 1
        let offset = frameOffset
        buffer.withUnsafeBytes { sink(.frame($0, offset: offset)) }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Settings of ``SilenceGapFramer``: `gapMs` (1–10,000, required) and `maxLength` (default 1024).
public struct SilenceGapFraming: FramerConfiguration, Hashable {
    /// `"silence-gap"`.
    public static let type = "silence-gap"
    /// Silence that ends a frame, in milliseconds.
    public var gapMs: Int
    /// Longest frame kept.
    public var maxLength: Int

    /// Creates settings.
    public init(gapMs: Int, maxLength: Int = 1024) {
        self.gapMs = gapMs
        self.maxLength = maxLength
    }

    /// Reads `gapMs` and `maxLength`; records every error in `section` and returns nil when any key
    /// is invalid.
    public init?(reading section: inout JSONObjectReader) {
        let gapMs = section.integer("gapMs", in: 1...10000, required: true)
        let maxLength = section.framingMaxLength()
        guard let gapMs, section.isClean else { return nil }
        self.init(gapMs: gapMs, maxLength: maxLength)
    }

    /// A fresh ``SilenceGapFramer``.
    public func makeFramer() -> any Framer { SilenceGapFramer(gapMs: gapMs, maxLength: maxLength) }
}
