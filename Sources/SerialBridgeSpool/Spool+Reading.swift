import Logging
import SerialBridgeProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The sender's side of the spool: the segment it has open and its read buffer. Reads happen
/// outside the spool's lock, so appending never waits for them (nor for a disk read of a
/// backlog that is no longer in the page cache).
struct CursorReader {
    enum Outcome {
        /// Read up to `offset`; the frames were appended to the caller's batch.
        case read(offset: Int)
        /// The file cannot be opened (it was deleted meanwhile, or worse).
        case missing(Int32)
        /// Bytes that should hold complete records do not.
        case unreadable(String, lastGood: ReadingID?)
    }

    private var descriptor: Int32 = -1
    private var number: UInt64 = 0
    private var reader = SegmentReader(from: 0, limit: 0)

    /// Reads frames of the plan into `frames`: at most `limit` frames and about `byteBudget`
    /// payload bytes, skipping identities up to the plan's mark.
    mutating func read(
        _ plan: SpoolState.ReadPlan, path: String, limit: Int, byteBudget: Int, into frames: inout SpoolFrames
    ) -> Outcome {
        if descriptor < 0 || number != plan.number {
            close()
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return .missing(errno) }
            number = plan.number
            reader.reset(to: plan.offset, limit: plan.limit)
        } else {
            reader.seek(to: plan.offset, limit: plan.limit)
        }
        var bytes = 0
        var lastGood: ReadingID?
        while frames.count < limit && bytes < byteBudget {
            let step = reader.next(descriptor) { header, payload in
                lastGood = header.id
                if let skip = plan.skipThrough, header.id <= skip { return }
                frames.append(id: header.id, timestamp: header.timestamp, payload: payload)
                bytes += payload.count
            }
            switch step {
            case .record:
                continue
            case .end:
                return .read(offset: reader.offset)
            case .torn(let reason), .invalid(let reason):
                return .unreadable("\(reason) at offset \(reader.offset)", lastGood: lastGood)
            case .failed(let code):
                return .unreadable("read error at offset \(reader.offset): \(Posix.message(code))", lastGood: lastGood)
            }
        }
        return .read(offset: reader.offset)
    }

    mutating func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }
}

extension Spool {
    /// The next frames for the sender, oldest first: at most `limit` frames (and about 4 MiB),
    /// read back from the segment files. Empty when the sender has read everything held; never
    /// waits for new frames. One consumer at a time.
    ///
    /// A segment that cannot be read back is moved aside with a log line and its unacknowledged
    /// frames are counted as dropped.
    public func read(limit: Int) -> SpoolFrames {
        var frames = SpoolFrames()
        while true {
            guard let plan = state.withLock({ $0.planRead() }) else { return frames }
            let outcome = reader.withLock {
                $0.read(plan, path: path(plan.number), limit: limit, byteBudget: 4 << 20, into: &frames)
            }
            switch outcome {
            case .read(let offset):
                let applied = state.withLock { $0.advance(plan, to: offset, lastRead: frames.last?.id) }
                if !applied { frames.removeAll() }
                if !frames.isEmpty { return frames }
            case .missing(let code):
                // Deleted meanwhile (acknowledged or dropped): the next plan skips it. Otherwise unreadable.
                let gone = state.withLock { state in !state.segments.contains { $0.number == plan.number } }
                if !gone { discardUnreadable(plan, reason: "cannot open it: \(Posix.message(code))") }
                frames.removeAll()
            case .unreadable(let reason, _):
                discardUnreadable(plan, reason: reason)
                frames.removeAll()
            }
        }
    }

    /// Moves aside a segment the sender cannot read; its unacknowledged frames count as dropped.
    private func discardUnreadable(_ plan: SpoolState.ReadPlan, reason: String) {
        let lost = state.withLock { state -> Int64? in
            let lost = state.segments.first { $0.number == plan.number }?.count(after: state.acknowledged)
            return state.removeUnreadable(plan.number) ? lost : nil
        }
        guard let lost else { return }
        let source = path(plan.number)
        let target = "\(source).corrupt-\(Timestamp.nowMilliseconds() / 1000)"
        let moved = rename(source, target) == 0
        logger.error("spool: \(source) cannot be read back (\(reason)); \(moved ? "moved aside to \(target)" : "left in place"), \(lost) unacknowledged frames dropped")
    }
}
