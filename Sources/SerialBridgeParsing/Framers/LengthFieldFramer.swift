import SerialBridgeJSON

/// `framing.type = "length-field"`: frames that start with a ``sync`` header and carry their own
/// length in a 1-, 2- or 4-byte field, such as the Plantower PMS5003's
/// `42 4D 00 1C <26 data bytes> <2 checksum bytes>` (32 bytes; the length 0x001C counts the 28 bytes
/// after the field). The frame is delivered whole, header included.
///
/// The frame's total length is `offset + width + value + adjust` when the field counts the rest of
/// the frame (``LengthFieldFraming/Counts/rest``), or `value + adjust` when it counts the whole frame
/// (``LengthFieldFraming/Counts/frame``). A total shorter than the header (`offset + width`) or longer
/// than ``maxLength`` is rejected as `bad length N` (N as the field says) and the search restarts one
/// byte after the sync's first byte, so a good frame overlapping the bad one is not lost. A total
/// over `maxLength` also counts as an oversize frame.
///
/// Rejections: every run of dropped bytes (garbage before a sync, bad headers) is reported once, at
/// the offset of its first byte, with the reason its first byte was dropped (`no sync header` or
/// `bad length N`); the run lasts until the next frame, and every byte in it counts in
/// `discardedBytes`. Each run also counts one resync.
///
/// Cost: a frame that lies inside one chunk is passed without copying; a frame spanning reads is
/// copied once into a buffer of at most ``maxLength`` bytes. A candidate costs one comparison per
/// sync byte and one read of the length field; a rejected candidate is followed by one at the next
/// byte.
public struct LengthFieldFramer: Framer {
    /// Header every frame starts with.
    public let sync: [UInt8]
    /// Byte index of the length field from the frame's first byte.
    public let lengthOffset: Int
    /// Width of the length field: 1, 2 or 4 bytes.
    public let lengthWidth: Int
    /// Byte order of the length field.
    public let endianness: Endianness
    /// What the length field counts.
    public let counts: LengthFieldFraming.Counts
    /// Added to the field's value before use (may be negative).
    public let adjust: Int
    /// Longest frame accepted, in bytes, header included.
    public let maxLength: Int
    /// What the framer has seen so far.
    public var counters: FramerCounters { hunter.counters }

    private var hunter: SyncHunter<Rule>

    /// Creates a length-field framer.
    /// - Precondition: `sync` is not empty, `lengthOffset >= sync.count`, `lengthWidth` is 1, 2 or 4,
    ///   and `lengthOffset + lengthWidth <= maxLength` (the profile loader validates all of these).
    public init(
        sync: [UInt8], lengthOffset: Int, lengthWidth: Int, endianness: Endianness = .big,
        counts: LengthFieldFraming.Counts = .rest, adjust: Int = 0, maxLength: Int = 1024
    ) {
        precondition(!sync.isEmpty && lengthOffset >= sync.count, "validated by the profile loader")
        precondition([1, 2, 4].contains(lengthWidth) && lengthOffset + lengthWidth <= maxLength, "validated by the profile loader")
        self.sync = sync
        self.lengthOffset = lengthOffset
        self.lengthWidth = lengthWidth
        self.endianness = endianness
        self.counts = counts
        self.adjust = adjust
        self.maxLength = maxLength
        hunter = SyncHunter(rule: Rule(
            sync: sync, lengthOffset: lengthOffset, lengthWidth: lengthWidth, bigEndian: endianness == .big,
            countsRest: counts == .rest, adjust: adjust, maxLength: maxLength
        ))
    }

    /// Bytes held for a frame that spans reads: always fewer than ``maxLength``.
    public var bufferedBytes: Int { hunter.heldCount }

    /// Feeds the next bytes; `time` is ignored. Calls `sink` for every frame and rejection, in
    /// stream order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: UInt64, _ sink: (FramerEvent) -> Void) {
        hunter.feed(bytes, sink)
    }

    private struct Rule: SyncFramingRule {
        let sync: [UInt8]
        let lengthOffset: Int
        let lengthWidth: Int
        let bigEndian: Bool
        let countsRest: Bool
        let adjust: Int
        let maxLength: Int

        var maxFrameLength: Int { maxLength }

        func judge<Bytes: FramingBytes>(_ bytes: Bytes, at start: Int) -> CandidateJudgement {
            let available = bytes.count - start
            for (index, byte) in sync.enumerated() {
                guard index < available else { return .undecided }
                guard bytes[start + index] == byte else { return .noSync }
            }
            let header = lengthOffset + lengthWidth
            guard available >= header else { return .undecided }
            var value = 0
            for index in 0..<lengthWidth {
                let byte = bytes[start + lengthOffset + (bigEndian ? index : lengthWidth - 1 - index)]
                value = value << 8 | Int(byte)
            }
            let total = (countsRest ? header + value : value) + adjust
            guard total >= header && total <= maxLength else { return .badLength(value: value, oversize: total > maxLength) }
            guard available >= total else { return .undecided }
            return .frame(length: total)
        }
    }
}

/// Settings of ``LengthFieldFramer``: `sync` (hex, required), `length` (`offset` required, `width`
/// required, `endianness`, `counts`, `adjust`) and `maxLength` (default 1024).
public struct LengthFieldFraming: FramerConfiguration, Hashable {
    /// `"length-field"`.
    public static let type = "length-field"

    /// What a length field counts.
    public enum Counts: String, Sendable, Hashable, CaseIterable {
        /// The bytes after the length field (PMS5003, most binary sensors).
        case rest
        /// The whole frame, header included.
        case frame
    }

    /// Header every frame starts with (1–16 bytes).
    public var sync: [UInt8]
    /// Byte index of the length field from the frame's first byte; at least `sync.count`.
    public var lengthOffset: Int
    /// Width of the length field: 1, 2 or 4.
    public var lengthWidth: Int
    /// Byte order of the length field.
    public var endianness: Endianness
    /// What the length field counts.
    public var counts: Counts
    /// Added to the field's value (e.g. -2 when it also counts a 2-byte checksum that is not there).
    public var adjust: Int
    /// Longest frame accepted, header included.
    public var maxLength: Int

    /// Creates settings.
    public init(
        sync: [UInt8], lengthOffset: Int, lengthWidth: Int, endianness: Endianness = .big,
        counts: Counts = .rest, adjust: Int = 0, maxLength: Int = 1024
    ) {
        self.sync = sync
        self.lengthOffset = lengthOffset
        self.lengthWidth = lengthWidth
        self.endianness = endianness
        self.counts = counts
        self.adjust = adjust
        self.maxLength = maxLength
    }

    /// Reads `sync`, the `length` object and `maxLength`; records every error in `section` and
    /// returns nil when any key is invalid.
    public init?(reading section: inout JSONObjectReader) {
        let sync = section.framingHex("sync", required: true)
        var offset: Int?
        var width: Int?
        var endianness = Endianness.big
        var counts = Counts.rest
        var adjust = 0
        if var length = section.framingObject("length", required: true) {
            offset = length.integer("offset", in: 0...65535, required: true)
            switch length.value("width") {
            case .none:
                length.fail(key: "width", "is required")
            case .integer(let number)? where [1, 2, 4].contains(number):
                width = Int(number)
            case .some:
                length.fail(key: "width", "must be 1, 2 or 4")
            }
            endianness = length.choice("endianness", Endianness.self) ?? .big
            counts = length.choice("counts", Counts.self) ?? .rest
            adjust = length.integer("adjust", in: -65536...65536) ?? 0
            if let offset, let sync, offset < sync.count {
                length.fail(key: "offset", "must be at least the sync length (\(sync.count))")
            }
            section.absorb(length)
        }
        let maxLength = section.framingMaxLength()
        if let offset, let width, offset + width > maxLength {
            section.fail(key: "maxLength", "must be at least length.offset + length.width (\(offset + width))")
        }
        guard let sync, let offset, let width, section.isClean else { return nil }
        self.init(
            sync: sync, lengthOffset: offset, lengthWidth: width, endianness: endianness,
            counts: counts, adjust: adjust, maxLength: maxLength
        )
    }

    /// A fresh ``LengthFieldFramer``.
    public func makeFramer() -> any Framer {
        LengthFieldFramer(
            sync: sync, lengthOffset: lengthOffset, lengthWidth: lengthWidth, endianness: endianness,
            counts: counts, adjust: adjust, maxLength: maxLength
        )
    }
}
