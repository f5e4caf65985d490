import SerialBridgeJSON

/// `framing.type = "fixed"`: frames of exactly ``length`` bytes, optionally starting with a
/// ``sync`` header and ending with a ``tail``. The frame is delivered whole, sync and tail included,
/// so integrity checks and decoders index it as the device's documentation does.
///
/// - Without `sync`, frames are consecutive `length`-byte chunks of the stream (a `tail`, if set,
///   must still match; see below).
/// - With `sync`, the framer hunts for it; bytes before a sync are dropped and reported once per
///   run as `no sync header`.
/// - A frame whose `tail` does not match is rejected (`tail mismatch`) and the search restarts one
///   byte after that frame's first byte, so a good frame overlapping the bad one is not lost.
///
/// Rejections: every run of dropped bytes is reported once, at the offset of its first byte, with
/// the reason its first byte was dropped; the run lasts until the next frame, and every byte in it
/// counts in `discardedBytes`. Each run also counts one resync.
///
/// Cost: a frame that lies inside one chunk is passed without copying; a frame spanning reads is
/// copied once into a buffer of at most `length` bytes. A candidate costs one comparison per sync
/// and tail byte; a rejected candidate is followed by one at the next byte, so garbage made of sync
/// bytes costs `sync.count + tail.count` comparisons per byte.
public struct FixedLengthFramer: Framer {
    /// Frame length in bytes, sync and tail included.
    public let length: Int
    /// Bytes every frame starts with; empty for none.
    public let sync: [UInt8]
    /// Bytes every frame ends with; empty for none.
    public let tail: [UInt8]
    /// What the framer has seen so far.
    public var counters: FramerCounters { hunter.counters }

    private var hunter: SyncHunter<Rule>

    /// Creates a fixed-length framer.
    /// - Precondition: `length >= 1` and `sync.count + tail.count <= length` (the profile loader
    ///   validates both).
    public init(length: Int, sync: [UInt8] = [], tail: [UInt8] = []) {
        precondition(length >= 1 && sync.count + tail.count <= length, "validated by the profile loader")
        self.length = length
        self.sync = sync
        self.tail = tail
        hunter = SyncHunter(rule: Rule(length: length, sync: sync, tail: tail))
    }

    /// Bytes held for a frame that spans reads: always fewer than ``length``.
    public var bufferedBytes: Int { hunter.heldCount }

    /// Feeds the next bytes; `time` is ignored. Calls `sink` for every frame and rejection, in
    /// stream order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: UInt64, _ sink: (FramerEvent) -> Void) {
        hunter.feed(bytes, sink)
    }

    private struct Rule: SyncFramingRule {
        let length: Int
        let sync: [UInt8]
        let tail: [UInt8]

        var maxFrameLength: Int { length }

        func judge<Bytes: FramingBytes>(_ bytes: Bytes, at start: Int) -> CandidateJudgement {
            let available = bytes.count - start
            for (index, byte) in sync.enumerated() {
                guard index < available else { return .undecided }
                guard bytes[start + index] == byte else { return .noSync }
            }
            guard available >= length else { return .undecided }
            let tailStart = start + length - tail.count
            for (index, byte) in tail.enumerated() where bytes[tailStart + index] != byte { return .tailMismatch }
            return .frame(length: length)
        }
    }
}

/// Settings of ``FixedLengthFramer``: `length` (1–65,536, required), `sync` and `tail` (optional hex,
/// 1–16 bytes each, together at most `length`).
public struct FixedLengthFraming: FramerConfiguration, Hashable {
    /// `"fixed"`.
    public static let type = "fixed"
    /// Frame length in bytes, sync and tail included.
    public var length: Int
    /// Header every frame starts with; empty for none.
    public var sync: [UInt8]
    /// Bytes every frame ends with; empty for none.
    public var tail: [UInt8]

    /// Creates settings; `sync.count + tail.count` must not exceed `length`.
    public init(length: Int, sync: [UInt8] = [], tail: [UInt8] = []) {
        self.length = length
        self.sync = sync
        self.tail = tail
    }

    /// Reads `length`, `sync` and `tail`; records every error in `section` and returns nil when
    /// any key is invalid.
    public init?(reading section: inout JSONObjectReader) {
        let length = section.integer("length", in: 1...65536, required: true)
        let sync = section.framingHex("sync") ?? []
        let tail = section.framingHex("tail") ?? []
        if let length, sync.count + tail.count > length {
            section.fail(key: "length", "must be at least the sync and tail together (\(sync.count + tail.count) bytes)")
        }
        guard let length, section.isClean else { return nil }
        self.init(length: length, sync: sync, tail: tail)
    }

    /// A fresh ``FixedLengthFramer``.
    public func makeFramer() -> any Framer { FixedLengthFramer(length: length, sync: sync, tail: tail) }
}
