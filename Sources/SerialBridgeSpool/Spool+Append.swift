import Logging
import SerialBridgeProtocol

#if canImport(Glibc)
import Glibc
#endif

extension Spool {
    /// Appends frames, in increasing identity order, with one write for the batch, and returns
    /// at once: durability follows at the next group commit.
    ///
    /// Returns how many frames were taken: always a prefix of `frames`. The rest were refused
    /// (quota with ``WhenFull/rejectNewest``, a write error, an identity not above the last
    /// one, or the spool closed) and are counted in ``SpoolStatus/dropped``. The caller may
    /// reuse the identities of refused frames: they were never stored or sent.
    @discardableResult
    public func append(_ frames: [SpoolFrame]) -> Int {
        append(SpoolFrames(frames))
    }

    /// ``append(_:)-([SpoolFrame])`` for frames laid end to end in one buffer (the hot path).
    @discardableResult
    public func append(_ frames: SpoolFrames) -> Int {
        guard !frames.isEmpty else { return 0 }
        var notes: [(Logger.Level, String)] = []
        let now = ContinuousClock.now
        let (taken, action) = state.withLock { state in
            let taken = append(frames, to: &state, notes: &notes)
            return (taken, state.nextCommitAction(configuration, now: now))
        }
        for (level, note) in notes { logger.log(level: level, "\(note)") }
        schedule(action)
        return taken
    }

    /// Under the lock: admits, writes and accounts for the frames. Returns how many were taken.
    private func append(_ frames: SpoolFrames, to state: inout SpoolState, notes: inout [(Logger.Level, String)]) -> Int {
        guard !state.closed else {
            state.dropped += UInt64(frames.count)
            return 0
        }
        let policy = configuration.retentionPolicy
        let segmentBytes = configuration.effectiveSegmentBytes
        state.buffer.removeAll(keepingCapacity: true)
        state.bufferedHeaders.removeAll(keepingCapacity: true)
        state.flushedCount = 0
        var tail = state.lastAppended
        admitting: for frame in frames {
            let header = SpoolRecord.Header(id: frame.id, timestamp: frame.timestamp, length: frame.payloadRange.count)
            guard tail.map({ header.id > $0 }) ?? true, header.length <= SpoolRecord.maxPayload else {
                notes.append((.error, "spool: refused frame \(header.id) (\(header.length) bytes): identities must grow and payloads stay under \(SpoolRecord.maxPayload) bytes"))
                break
            }
            // The quota, with room for a segment header in case this frame starts a segment.
            let incoming = header.size + SegmentFile.headerSize
            if state.heldBytes + state.buffer.count + incoming > policy.maxBytes {
                guard flush(&state, notes: &notes) else { break }
                // A segment still being written whose frames are all acknowledged makes room too.
                if let writer = state.writer, let acknowledged = state.acknowledged,
                   let last = state.segments.last, last.number == writer.number, last.lastID <= acknowledged {
                    state.seal()
                    for number in state.forgetAcknowledged() { unlink(path(number)) }
                }
                switch policy.admit(incoming: incoming, segments: state.segments.lazy.map(\.bytes)) {
                case .reject:
                    break admitting
                case .admit(let dropping):
                    let doomed = state.segments.prefix(dropping).reduce(Int64(0)) { $0 + $1.count(after: state.acknowledged) }
                    for number in state.dropOldest(dropping) { unlink(path(number)) }
                    if doomed > 0 {
                        notes.append((.warning, "spool full (\(policy.maxBytes) bytes): dropped the \(dropping) oldest segment(s), \(doomed) unacknowledged frames"))
                    }
                }
            }
            // A full segment, or a frame that does not continue it (new epoch, gap): start another.
            if state.writer != nil || !state.buffer.isEmpty {
                let size = (state.writer == nil ? 0 : state.segments.last?.bytes ?? 0) + state.buffer.count
                let continues = tail.map { $0.epoch == header.id.epoch && $0.sequence + 1 == header.id.sequence } ?? false
                if !continues || size + header.size > segmentBytes {
                    guard flush(&state, notes: &notes) else { break }
                    state.seal()
                }
            }
            if state.writer == nil && state.buffer.isEmpty {
                state.buffer.append(contentsOf: SegmentFile.header(epoch: header.id.epoch))
            }
            SpoolRecord.append(header, payload: frames.payload(frame), to: &state.buffer)
            state.bufferedHeaders.append(header)
            tail = header.id
        }
        _ = flush(&state, notes: &notes)
        let taken = state.flushedCount
        let refused = frames.count - taken
        if refused > 0 {
            state.dropped += UInt64(refused)
            state.version &+= 1
        }
        return taken
    }

    /// Writes the buffered records: to the open segment, or to a new one when none is open (the
    /// buffer then starts with a segment header). On ENOSPC/EDQUOT with ``WhenFull/dropOldest``
    /// the oldest segment is dropped and the write retried; a write that still fails leaves the
    /// file as it was and the buffered frames refused. True when the buffer was written.
    private func flush(_ state: inout SpoolState, notes: inout [(Logger.Level, String)]) -> Bool {
        guard !state.bufferedHeaders.isEmpty else { return true }
        while true {
            let opening = state.writer == nil
            if opening {
                let number = state.nextNumber
                let descriptor = Glibc.open(path(number), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
                guard descriptor >= 0 else {
                    let code = errno
                    if retryAfterFreeing(code, &state, notes: &notes) { continue }
                    return failed(code, "cannot create \(path(number))", &state, notes: &notes)
                }
                state.nextNumber += 1
                state.writer = SpoolState.Writer(number: number, descriptor: descriptor)
                state.directoryDirty = true
            }
            guard let writer = state.writer else { return false }
            let offset = opening ? 0 : (state.segments.last?.bytes ?? 0)
            let (written, code) = state.buffer.withUnsafeBytes { io.write(writer.descriptor, $0, offset) }
            if code == 0 && written == state.buffer.count {
                record(written: offset, &state)
                if let failing = state.failing {
                    state.failing = nil
                    notes.append((.notice, "spool writes work again (they failed with: \(Posix.message(failing)))"))
                }
                return true
            }
            // Leave the file as it was: a partial record must not be read back.
            if opening {
                state.writer = nil
                state.retired.append(SpoolState.Retired(descriptor: writer.descriptor, needsSync: false))
                unlink(path(writer.number))
            } else if ftruncate(writer.descriptor, off_t(offset)) != 0 {
                // The segment's tail is unusable; its readable part stays, the next frame starts a new file.
                state.seal()
            }
            let cause = code == 0 ? EIO : code
            if retryAfterFreeing(cause, &state, notes: &notes) { continue }
            if cause != ENOSPC && cause != EDQUOT { state.seal() }
            return failed(cause, "cannot write \(path(writer.number))", &state, notes: &notes)
        }
    }

    /// After a failed write for lack of space: drops the oldest segment not being written
    /// (with ``WhenFull/dropOldest``). True when space was freed and the write may be retried.
    private func retryAfterFreeing(_ code: Int32, _ state: inout SpoolState, notes: inout [(Logger.Level, String)]) -> Bool {
        guard code == ENOSPC || code == EDQUOT, configuration.whenFull == .dropOldest,
              let oldest = state.segments.first, oldest.number != state.writer?.number else { return false }
        let lost = oldest.count(after: state.acknowledged)
        for number in state.dropOldest(1) { unlink(path(number)) }
        notes.append((.warning, "spool: disk full (\(Posix.message(code))); dropped the oldest segment, \(lost) unacknowledged frames"))
        return true
    }

    /// Refuses the buffered frames after a write error; logs once while errors go on.
    private func failed(_ code: Int32, _ what: String, _ state: inout SpoolState, notes: inout [(Logger.Level, String)]) -> Bool {
        if state.failing == nil {
            notes.append((.error, "spool: \(what): \(Posix.message(code)); frames are dropped (and counted) until writes work again"))
        }
        state.failing = code
        state.buffer.removeAll(keepingCapacity: true)
        state.bufferedHeaders.removeAll(keepingCapacity: true)
        return false
    }

    /// Accounts for a successful write of the buffer at `offset`.
    private func record(written offset: Int, _ state: inout SpoolState) {
        var position = offset == 0 ? SegmentFile.headerSize : offset
        for header in state.bufferedHeaders {
            if let writer = state.writer, let last = state.segments.last, last.number == writer.number {
                state.segments[state.segments.count - 1].add(header)
            } else if let writer = state.writer {
                state.segments.append(SegmentInfo(number: writer.number, first: header, offset: position))
            }
            position += header.size
        }
        state.heldBytes += state.buffer.count
        state.lastAppended = state.bufferedHeaders.last?.id ?? state.lastAppended
        state.pending += state.bufferedHeaders.count
        state.pendingSince = state.pendingSince ?? ContinuousClock.now
        state.flushedCount += state.bufferedHeaders.count
        state.version &+= 1
        state.buffer.removeAll(keepingCapacity: true)
        state.bufferedHeaders.removeAll(keepingCapacity: true)
    }
}
