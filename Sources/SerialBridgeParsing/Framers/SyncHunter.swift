/// What a sync-hunting framer can tell about the bytes at one position of the stream.
enum CandidateJudgement {
    /// The byte there cannot begin a frame (it does not start the sync).
    case noSync
    /// A frame may begin there; more bytes are needed to tell.
    case undecided
    /// A valid frame of this many bytes begins there.
    case frame(length: Int)
    /// A frame of the right length begins there but does not end with the tail.
    case tailMismatch
    /// The frame's length field says `value`, which makes no valid frame.
    case badLength(value: Int, oversize: Bool)
    /// A frame of the right length begins there but its own check (e.g. a Modbus CRC) fails.
    case checksumMismatch
}

/// Random access to stream bytes: one chunk, or the bytes held from earlier reads followed by a
/// chunk, so candidates spanning reads are judged without first copying the chunk.
protocol FramingBytes {
    var count: Int { get }
    subscript(position: Int) -> UInt8 { get }
}

extension UnsafeRawBufferPointer: FramingBytes {}

/// Held bytes followed by a new chunk, read as one sequence.
struct SplitFramingBytes: FramingBytes {
    let first: UnsafeRawBufferPointer
    let second: UnsafeRawBufferPointer

    var count: Int { first.count + second.count }

    subscript(position: Int) -> UInt8 {
        position < first.count ? first[position] : second[position - first.count]
    }
}

/// How one kind of sync-hunting framer (fixed, length-field) judges a candidate frame.
protocol SyncFramingRule: Sendable {
    /// The longest frame; the hunter never holds this many bytes between reads.
    var maxFrameLength: Int { get }

    /// Judges the candidate frame that would begin at `start`, looking only at `bytes[start...]`.
    func judge<Bytes: FramingBytes>(_ bytes: Bytes, at start: Int) -> CandidateJudgement
}

/// The engine of the sync-hunting framers: tries a candidate frame at every position a rule does
/// not rule out, restarting one byte after a rejected candidate, so a good frame overlapping a bad
/// one is never lost.
///
/// Between reads it holds only the start of one undecided candidate (fewer than the rule's longest
/// frame). A new read is first judged together with those held bytes, without copying it; once no
/// candidate starting in the held bytes is left, the rest of the read is scanned in place, so
/// frames inside it are passed without copying. A frame spanning reads is copied once.
///
/// Every run of dropped bytes is reported once, at the offset of its first byte, with the reason
/// that byte was dropped; the run lasts until the next frame. Each run counts one resync; every
/// dropped byte counts in `discardedBytes`; a length beyond the maximum counts as an oversize frame.
struct SyncHunter<Rule: SyncFramingRule>: Sendable {
    let rule: Rule
    private(set) var counters = FramerCounters()
    // The start of one undecided candidate frame, from earlier reads.
    private var held: [UInt8] = []
    // Stream offset of `held[0]`.
    private var heldOffset: UInt64 = 0
    // A run of dropped bytes is open (already reported); it ends at the next frame.
    private var dropping = false

    init(rule: Rule) {
        self.rule = rule
        held.reserveCapacity(min(rule.maxFrameLength, 4096))
    }

    /// Bytes held between reads.
    var heldCount: Int { held.count }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ sink: (FramerEvent) -> Void) {
        let base = counters.bytes
        counters.bytes &+= UInt64(bytes.count)
        var index = 0
        if !held.isEmpty {
            guard let resume = continueHeld(with: bytes, sink) else { return }
            index = resume
        }
        var position = index
        let count = bytes.count
        scan: while position < count {
            switch rule.judge(bytes, at: position) {
            case .undecided:
                break scan
            case .frame(let length):
                dropping = false
                counters.frames &+= 1
                sink(.frame(UnsafeRawBufferPointer(rebasing: bytes[position..<position + length]), offset: base + UInt64(position)))
                position += length
            case let rejection:
                drop(rejection, at: base + UInt64(position), sink)
                position += 1
            }
        }
        if position < count {
            held.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position...]))
            heldOffset = base + UInt64(position)
        }
    }

    /// Judges the candidates that begin in the held bytes, reading on into `bytes`. Returns where to
    /// go on scanning `bytes`, or nil when the read was used up (and is now held).
    private mutating func continueHeld(with bytes: UnsafeRawBufferPointer, _ sink: (FramerEvent) -> Void) -> Int? {
        // Move the held bytes out so they can be read while counters change.
        var old: [UInt8] = []
        swap(&old, &held)
        let oldOffset = heldOffset
        var position = 0
        var spanning: Int?
        old.withUnsafeBytes { old in
            let view = SplitFramingBytes(first: old, second: bytes)
            while position < old.count {
                switch rule.judge(view, at: position) {
                case .undecided:
                    return
                case .frame(let length) where position + length <= old.count:
                    dropping = false
                    counters.frames &+= 1
                    sink(.frame(UnsafeRawBufferPointer(rebasing: old[position..<position + length]), offset: oldOffset + UInt64(position)))
                    position += length
                case .frame(let length):
                    spanning = length
                    return
                case let rejection:
                    drop(rejection, at: oldOffset + UInt64(position), sink)
                    position += 1
                }
            }
        }
        swap(&old, &held)
        if position >= held.count {
            held.removeAll(keepingCapacity: true)
            return 0
        }
        held.removeFirst(position)
        heldOffset = oldOffset + UInt64(position)
        guard let length = spanning else {
            // Still undecided: keep the candidate with all of this read (together under one frame).
            held.append(contentsOf: bytes)
            return nil
        }
        let fromRead = length - held.count
        held.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<fromRead]))
        dropping = false
        counters.frames &+= 1
        let offset = heldOffset
        held.withUnsafeBytes { sink(.frame($0, offset: offset)) }
        held.removeAll(keepingCapacity: true)
        return fromRead
    }

    /// Drops the held start of a candidate frame (e.g. after a silence that no frame may contain),
    /// reporting it as `reason`.
    mutating func discardHeld(reason: String, _ sink: (FramerEvent) -> Void) {
        guard !held.isEmpty else { return }
        counters.discardedBytes &+= UInt64(held.count)
        counters.resyncs &+= 1
        dropping = false
        sink(.rejected(reason: reason, offset: heldOffset))
        held.removeAll(keepingCapacity: true)
    }

    private mutating func drop(_ judgement: CandidateJudgement, at offset: UInt64, _ sink: (FramerEvent) -> Void) {
        counters.discardedBytes &+= 1
        if case .badLength(_, oversize: true) = judgement { counters.oversizeFrames &+= 1 }
        guard !dropping else { return }
        dropping = true
        counters.resyncs &+= 1
        let reason = switch judgement {
        case .tailMismatch: "tail mismatch"
        case .checksumMismatch: "crc mismatch"
        case .badLength(let value, _): "bad length \(value)"
        default: "no sync header"
        }
        sink(.rejected(reason: reason, offset: offset))
    }
}
