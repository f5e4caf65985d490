import Logging
import SerialBridgeProtocol

#if canImport(Glibc)
import Glibc
#endif

extension Spool {
    /// Opens (creating if needed) the spool in `directory`: takes its lock, checks every segment
    /// file, cuts torn tails, moves damaged files aside, forgets what `marks.json` says is
    /// acknowledged, and starts the commit thread (with ``SpoolConfiguration/automaticCommit``).
    ///
    /// Damage is never fatal: it is logged and the spool carries on with what is intact.
    /// - Parameter lockPatience: how long to wait for the lock (a `spool status` holds it for a moment).
    /// - Throws: ``SpoolError`` when the folder cannot be created or read, or another process
    ///   holds the spool.
    public static func open(
        directory: String, configuration: SpoolConfiguration = SpoolConfiguration(), io: SpoolIO = .posix,
        lockPatience: Duration = .seconds(5), logger: Logger
    ) throws(SpoolError) -> Spool {
        let made = Posix.makeDirectories(directory)
        guard made == 0 else { throw .folder(path: directory, reason: Posix.message(made)) }
        let lock = try SpoolLock.acquire(directory: directory, patience: lockPatience)
        var state = SpoolState()
        switch SpoolMarks.read(directory: directory) {
        case .success(let marks):
            state.persisted = marks
        case .failure(let error):
            logger.error("\(error)")
        }
        state.acknowledged = state.persisted.acknowledged
        state.dropped = state.persisted.dropped
        let names: [String]
        switch Posix.list(directory) {
        case .success(let listed): names = listed
        case .failure(let error):
            Glibc.close(lock)
            throw .folder(path: directory, reason: error.description)
        }
        var recovery = SpoolRecovery()
        // Numbers of moved-aside files count too: a new segment never takes an old name.
        state.nextNumber = (names.compactMap { name in UInt64(name.prefix { $0.isASCII && $0.isNumber }) }.max() ?? 0) + 1
        let numbered = names.compactMap { name in SegmentFile.number(ofName: name).map { ($0, name) } }.sorted { $0.0 < $1.0 }
        for (number, name) in numbered {
            let path = directory + "/" + name
            let scan = SegmentScanner.scan(path: path, number: number)
            recovery.newestEpoch = max(recovery.newestEpoch, scan.headerEpoch ?? 0, scan.info?.epoch ?? 0)
            switch scan.verdict {
            case .clean:
                break
            case .tornTail(let validEnd, let reason):
                if scan.info == nil {
                    unlink(path)
                    if scan.fileSize > SegmentFile.headerSize {
                        logger.warning("spool: \(path) held no complete record (\(reason)); removed")
                    }
                    continue
                }
                guard truncate(path, off_t(validEnd)) == 0 else {
                    let reason = Posix.message(errno)
                    moveAside(path, because: "its torn tail cannot be cut off (\(reason))", scan: scan, into: &recovery, logger: logger)
                    continue
                }
                recovery.tornTails += 1
                logger.warning("spool: \(path): discarded a torn last record (\(scan.fileSize - validEnd) bytes from offset \(validEnd): \(reason)); kept \(scan.info?.count ?? 0) frames up to \(scan.info.map { "\($0.lastID)" } ?? "-")")
            case .corrupt(let reason, let offset):
                moveAside(path, because: "\(reason) (offset \(offset))", scan: scan, into: &recovery, logger: logger)
                continue
            }
            guard let info = scan.info else {
                unlink(path)
                continue
            }
            if let previous = state.segments.last, info.firstID <= previous.lastID {
                moveAside(path, because: "its frames (\(info.firstID)…) do not follow those of \(SegmentFile.name(previous.number)) (…\(previous.lastID))", scan: scan, into: &recovery, logger: logger)
                continue
            }
            state.segments.append(info)
            state.heldBytes += info.bytes
            state.lastAppended = info.lastID
        }
        state.committed = state.lastAppended
        for number in state.forgetAcknowledged() { unlink(directory + "/" + SegmentFile.name(number)) }
        recovery.segments = state.segments.count
        recovery.frames = state.depth
        recovery.newest = state.lastAppended
        let spool = Spool(
            directory: directory, configuration: configuration, recovery: recovery, state: state, lock: lock,
            io: io, logger: logger
        )
        if recovery.frames > 0 {
            logger.info("spool \(directory): \(recovery.frames) frames to send from a previous run (\(state.segments.first.map { "\($0.firstID)" } ?? "-") to \(recovery.newest.map { "\($0)" } ?? "-")), \(state.heldBytes) bytes in \(recovery.segments) segments; acknowledged up to \(state.acknowledged.map { "\($0)" } ?? "nothing")")
        }
        if configuration.automaticCommit { spool.startHousekeeping() }
        return spool
    }

    /// Renames a damaged file `NAME.corrupt-SECONDS` with a log line saying what is lost.
    private static func moveAside(_ path: String, because reason: String, scan: SegmentScanner.Result, into recovery: inout SpoolRecovery, logger: Logger) {
        var target = "\(path).corrupt-\(Timestamp.nowMilliseconds() / 1000)"
        var attempt = 1
        while Posix.exists(target) {
            attempt += 1
            target = "\(path).corrupt-\(Timestamp.nowMilliseconds() / 1000)-\(attempt)"
        }
        let frames = scan.info.map { "\($0.count) readable frames (\($0.firstID) to \($0.lastID)) and what follows" } ?? "its contents"
        if rename(path, target) == 0 {
            recovery.movedAside.append(target)
            logger.error("spool: \(path) is damaged: \(reason); moved aside to \(target) and carrying on without \(frames)")
        } else {
            let cause = Posix.message(errno)
            unlink(path)
            logger.error("spool: \(path) is damaged: \(reason); cannot move it aside (\(cause)), removed it, losing \(frames)")
        }
    }
}
