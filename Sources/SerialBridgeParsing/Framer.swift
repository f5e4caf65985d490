/// Cuts a byte stream into frames. A pure value: bytes in, frames out, no I/O and no clock.
///
/// Framers own a bounded buffer for a frame that spans reads; they never grow it past their
/// configured maximum, and they resynchronise on their own after garbage.
public protocol Framer: Sendable {
    /// Feeds the next bytes read from the device and calls `onFrame` for every complete frame, in
    /// order. The buffer passed to `onFrame` is only valid during the call.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, onFrame: (UnsafeRawBufferPointer) -> Void)

    /// What the framer has seen so far.
    var counters: FramerCounters { get }
}

/// Counters every framer keeps.
public struct FramerCounters: Sendable, Hashable {
    /// Bytes fed in.
    public var bytes: UInt64 = 0
    /// Frames emitted.
    public var frames: UInt64 = 0
    /// Frames dropped because they exceeded the maximum length.
    public var oversizeFrames: UInt64 = 0
    /// Bytes thrown away while resynchronising (oversize frames, garbage).
    public var discardedBytes: UInt64 = 0
    /// Empty frames ignored (e.g. blank lines).
    public var emptyFrames: UInt64 = 0

    /// Zero counters.
    public init() {}
}
