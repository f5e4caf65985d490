import SerialBridgeJSON

/// What a framer reports: a complete frame, or bytes it had to reject.
///
/// The buffer of a `.frame` is only valid during the callback. `offset` is the position of the
/// frame's (or rejected run's) first byte in the whole stream fed so far, counted from 0, so
/// replays can point at the bytes that failed.
public enum FramerEvent {
    /// A complete frame (without delimiters, terminators or escapes).
    case frame(UnsafeRawBufferPointer, offset: UInt64)
    /// Bytes dropped, with a short reason: `oversize frame`, `no sync header`, `bad length`, ….
    case rejected(reason: String, offset: UInt64)
}

/// Cuts a byte stream into frames. A pure value: bytes (and their arrival time) in, events out, no
/// I/O and no clock of its own.
///
/// Framers own a bounded buffer for a frame that spans reads; they never grow it past their
/// configured maximum, and they resynchronise on their own after garbage or a bad frame without
/// losing the next good one.
public protocol Framer: Sendable {
    /// Feeds the next bytes read from the device; `time` is their arrival in nanoseconds on a
    /// monotonic clock (only time-based framers look at it). Calls `sink` for every event, in order.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: UInt64, _ sink: (FramerEvent) -> Void)

    /// Tells the framer that no byte has arrived up to `time`, so a time-based framer can end a frame
    /// on silence. Other framers do nothing.
    mutating func flush(at time: UInt64, _ sink: (FramerEvent) -> Void)

    /// What the framer has seen so far.
    var counters: FramerCounters { get }
}

extension Framer {
    public mutating func flush(at time: UInt64, _ sink: (FramerEvent) -> Void) {}

    /// Feeds bytes with no arrival time (tests, raw replays).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ sink: (FramerEvent) -> Void) {
        feed(bytes, at: 0, sink)
    }
}

/// Counters every framer keeps.
public struct FramerCounters: Sendable, Hashable {
    /// Bytes fed in.
    public var bytes: UInt64 = 0
    /// Frames emitted.
    public var frames: UInt64 = 0
    /// Frames dropped because they exceeded the maximum length.
    public var oversizeFrames: UInt64 = 0
    /// Bytes thrown away while resynchronising (oversize frames, garbage, bad frames).
    public var discardedBytes: UInt64 = 0
    /// Times the framer lost sync and hunted for the next frame start.
    public var resyncs: UInt64 = 0
    /// Empty frames ignored (e.g. blank lines).
    public var emptyFrames: UInt64 = 0

    /// Zero counters.
    public init() {}
}

/// A framer's settings as read from a profile's `framing` section, registered under ``type``.
///
/// Each framer reads its own keys, so adding one touches its file, ``ParserRegistry`` and the docs.
public protocol FramerConfiguration: Sendable {
    /// The `framing.type` this configuration is registered under, e.g. `line`.
    static var type: String { get }

    /// Reads the framing section (the reader already consumed `type`); records errors in the reader
    /// and returns nil when the section is invalid.
    init?(reading section: inout JSONObjectReader)

    /// A fresh framer with these settings.
    func makeFramer() -> any Framer

    /// For framers that end frames on silence: how often the session must call
    /// ``Framer/flush(at:_:)`` while no bytes arrive. Nil (the default) for every other framer.
    var idleFlushInterval: Duration? { get }
}

extension FramerConfiguration {
    public var idleFlushInterval: Duration? { nil }
}

extension SilenceGapFraming {
    /// Half the gap, so a frame ends at most 1.5 gaps after its last byte.
    public var idleFlushInterval: Duration? { .milliseconds(max(1, gapMs / 2)) }
}
