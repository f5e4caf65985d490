import Dispatch
import Logging
import SerialBridgeProtocol

#if canImport(Glibc)
import Glibc
#endif

/// When the commit thread should next look at the spool.
enum CommitAction {
    case none
    case now
    case at(ContinuousClock.Instant)
}

extension SpoolState {
    /// After a change: whether to wake the commit thread, by the group-commit policy. Nothing when
    /// a wake-up at or before the due instant is already arranged.
    mutating func nextCommitAction(_ configuration: SpoolConfiguration, now: ContinuousClock.Instant) -> CommitAction {
        guard configuration.automaticCommit, !closed else { return .none }
        switch configuration.commitPolicy.decide(pending: pending, oldestSince: pendingSince, now: now) {
        case .idle:
            return .none
        case .commitNow:
            if let scheduled = commitScheduled, scheduled <= now { return .none }
            commitScheduled = now
            return .now
        case .commitAt(let due):
            if let scheduled = commitScheduled, scheduled <= due { return .none }
            commitScheduled = due
            return .at(due)
        }
    }
}

extension Spool {
    /// What one commit does, taken under the lock and done outside it.
    private struct CommitJob {
        var sync: [Int32]
        var close: [Int32]
        var candidate: ReadingID?
        var syncFolder: Bool
    }

    /// Commits now if the group-commit policy says so at `now` (or closes segments no longer
    /// written). True when a commit was made. For tests with explicit instants; the commit thread
    /// does the same on its own.
    @discardableResult
    public func commitIfDue(now: ContinuousClock.Instant) -> Bool {
        committer.sync { commitCycle(now: now, force: false) }
    }

    /// Makes every frame appended so far durable, now.
    public func commit() {
        committer.sync { _ = commitCycle(now: .now, force: true) }
    }

    /// On the commit queue: fsyncs every segment with uncommitted data (the one being written,
    /// and those closed since the last commit) and the folder when a file was created, then
    /// raises the committed mark to what was appended before the fsyncs began.
    private func commitCycle(now: ContinuousClock.Instant, force: Bool) -> Bool {
        let job = state.withLock { state -> CommitJob? in
            state.commitScheduled = nil
            let decision = configuration.commitPolicy.decide(pending: state.pending, oldestSince: state.pendingSince, now: now)
            let due: Bool
            switch decision {
            case .commitNow: due = true
            case .commitAt: due = force
            case .idle: due = force || !state.retired.isEmpty || state.directoryDirty
            }
            guard due else { return nil }
            // Nothing pending: the open segment's frames are fsynced or acknowledged already.
            let writer = force || state.pending > 0 ? state.writer.map { [$0.descriptor] } ?? [] : []
            let job = CommitJob(
                sync: writer + state.retired.filter(\.needsSync).map(\.descriptor),
                close: state.retired.map(\.descriptor), candidate: state.lastAppended, syncFolder: state.directoryDirty
            )
            state.retired = []
            state.pending = 0
            state.pendingSince = nil
            state.directoryDirty = false
            return job
        }
        guard let job else {
            reschedule()
            return false
        }
        var failure: Int32 = 0
        for descriptor in job.sync {
            let code = io.sync(descriptor)
            if code != 0 { failure = code }
        }
        if job.syncFolder { Posix.syncDirectory(directory) }
        for descriptor in job.close { Glibc.close(descriptor) }
        state.withLock { state in
            if failure == 0 { state.committed = SpoolState.newer(state.committed, job.candidate) }
            state.commits += 1
            state.version &+= 1
        }
        if failure != 0 {
            logger.error("spool: fsync failed (\(Posix.message(failure))): frames after \(status.committed.map { "\($0)" } ?? "none") may not survive a power loss")
        }
        // Housekeeping writes it every second anyway; after a commit only when that is late.
        writeStatus(minimumInterval: .seconds(1))
        reschedule()
        return true
    }

    /// Arranges the next wake-up of the commit thread, if one is due.
    private func reschedule() {
        let action = state.withLock { $0.nextCommitAction(configuration, now: .now) }
        schedule(action)
    }

    /// Wakes the commit thread now or at an instant.
    func schedule(_ action: CommitAction) {
        switch action {
        case .none:
            return
        case .now:
            committer.async { [weak self] in _ = self?.commitCycle(now: .now, force: false) }
        case .at(let due):
            let delay = max(.zero, due - .now)
            let nanoseconds = Int(delay.components.seconds) * 1_000_000_000 + Int(delay.components.attoseconds / 1_000_000_000)
            committer.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [weak self] in
                _ = self?.commitCycle(now: .now, force: false)
            }
        }
    }

    /// Once a second on the commit queue: age limit, acknowledged segments, marks and status.
    func startHousekeeping() {
        committer.asyncAfter(deadline: .now() + .seconds(1)) { [weak self] in
            guard let self, !self.state.withLock({ $0.closed }) else { return }
            self.housekeeping(now: Timestamp.nowMilliseconds())
            self.startHousekeeping()
        }
    }

    /// Drops segments past the age limit (at `now`, ms since 1970), deletes acknowledged ones,
    /// closes retired files, writes the marks when they changed and the status file. The commit
    /// thread does this once a second; tests call it with explicit times.
    public func keepHouse(now: Int64) {
        committer.sync { housekeeping(now: now) }
    }

    private func housekeeping(now: Int64) {
        let (deleted, marks, expired, lost) = state.withLock { state -> ([UInt64], SpoolMarks?, Int, Int64) in
            let expired = configuration.retentionPolicy.expired(newestTimestamps: state.segments.lazy.map(\.lastTimestamp), now: now)
            let lost = state.segments.prefix(expired).reduce(Int64(0)) { $0 + $1.count(after: state.acknowledged) }
            let deleted = state.dropOldest(expired) + state.forgetAcknowledged()
            let marks = SpoolMarks(acknowledged: state.acknowledged, dropped: state.dropped)
            return (deleted, marks == state.persisted ? nil : marks, expired, lost)
        }
        if lost > 0, let maxAge = configuration.maxAgeSeconds {
            logger.warning("spool: dropped \(expired) segment(s) older than \(maxAge) s, \(lost) unacknowledged frames")
        }
        for number in deleted { unlink(path(number)) }
        if let marks {
            let code = marks.write(directory: directory)
            if code == 0 {
                state.withLock { $0.persisted = marks }
            } else {
                logger.error("spool: cannot write \(directory)/\(SpoolMarks.fileName): \(Posix.message(code))")
            }
        }
        _ = commitCycle(now: .now, force: false)
        writeStatus(minimumInterval: .zero)
    }

    /// Writes `status.json` when something changed and the last write is old enough.
    private func writeStatus(minimumInterval: Duration) {
        let now = ContinuousClock.now
        let status = state.withLock { state -> SpoolStatus? in
            guard state.version != state.statusVersionWritten else { return nil }
            if let last = state.lastStatusWrite, now - last < minimumInterval { return nil }
            state.statusVersionWritten = state.version
            state.lastStatusWrite = now
            return state.status(takenAt: Timestamp.nowMilliseconds())
        }
        guard let status else { return }
        _ = Posix.replaceFile(directory + "/" + SpoolInspector.statusFileName, contents: status.json, durable: false)
    }

    /// Final commit (every frame appended is made durable), marks and status written, files
    /// closed, lock released. Frames not acknowledged stay for the next run. Appends after this
    /// are refused (and counted). Safe to call more than once.
    public func close() {
        committer.sync {
            guard !state.withLock({ $0.closed }) else { return }
            _ = commitCycle(now: .now, force: true)
            let (descriptors, marks) = state.withLock { state -> ([Int32], SpoolMarks) in
                state.closed = true
                state.version &+= 1
                let descriptors = (state.writer.map { [$0.descriptor] } ?? []) + state.retired.map(\.descriptor)
                state.writer = nil
                state.retired = []
                return (descriptors, SpoolMarks(acknowledged: state.acknowledged, dropped: state.dropped))
            }
            for descriptor in descriptors { Glibc.close(descriptor) }
            if marks != state.withLock({ $0.persisted }) {
                let code = marks.write(directory: directory)
                if code == 0 { state.withLock { $0.persisted = marks } }
            }
            writeStatus(minimumInterval: .zero)
            let status = self.status
            logger.info("spool closed: \(status.depth) frames kept for the next run, committed up to \(status.committed.map { "\($0)" } ?? "nothing"), \(status.dropped) dropped since the spool was created")
            reader.withLock { $0.close() }
            lockDescriptor.withLock { descriptor in
                if descriptor >= 0 { Glibc.close(descriptor) }
                descriptor = -1
            }
        }
    }
}
