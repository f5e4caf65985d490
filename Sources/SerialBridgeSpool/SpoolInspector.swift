import SerialBridgeJSON
import SerialBridgeProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Reads a spool's state without disturbing it, for `serialbridge spool status`: from the
/// running gateway's `status.json` when a gateway holds the spool, or by scanning the segment
/// files (read-only, under a shared lock that keeps a gateway from starting meanwhile) when none
/// does.
public enum SpoolInspector {
    /// File the running gateway keeps up to date.
    public static let statusFileName = "status.json"

    /// What was found.
    public struct Report: Sendable, Hashable {
        /// Whether a gateway holds the spool.
        public var running: Bool
        /// Its pid, when it wrote one.
        public var pid: String?
        /// The status.
        public var status: SpoolStatus
        /// Problems a scan found (torn tails, damaged files), which the next start will repair.
        public var problems: [String]
    }

    /// Why there is nothing to report.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is missing.
        public var message: String
        public var description: String { message }
    }

    /// Inspects the spool in `directory`.
    public static func inspect(directory: String) throws(Failure) -> Report {
        switch SpoolLock.probe(directory: directory) {
        case .noSpool:
            throw Failure(message: "no spool in \(directory) (the gateway has not run with this state directory yet)")
        case .held(let pid):
            let path = directory + "/" + statusFileName
            guard let bytes = try? FileContents.read(path, limit: 1 << 16), let status = SpoolStatus(json: bytes) else {
                throw Failure(message: "a gateway\(pid.map { " (pid \($0))" } ?? "") holds \(directory) but \(path) is missing or unreadable; it is written within a second of the start")
            }
            return Report(running: true, pid: pid, status: status, problems: [])
        case .free(let descriptor):
            defer { close(descriptor) }
            return scan(directory: directory)
        }
    }

    /// Status from the files: the newest frame in them counts as committed (it is what a
    /// restart would find).
    static func scan(directory: String) -> Report {
        var problems: [String] = []
        var marks = SpoolMarks()
        switch SpoolMarks.read(directory: directory) {
        case .success(let read): marks = read
        case .failure(let error): problems.append(error.description)
        }
        let names = (try? Posix.list(directory).get()) ?? []
        let numbered = names.compactMap { name in SegmentFile.number(ofName: name).map { ($0, name) } }.sorted { $0.0 < $1.0 }
        var state = SpoolState()
        state.acknowledged = marks.acknowledged
        state.dropped = marks.dropped
        for (number, name) in numbered {
            let path = directory + "/" + name
            let scan = SegmentScanner.scan(path: path, number: number)
            switch scan.verdict {
            case .clean: break
            case .tornTail(let validEnd, let reason):
                problems.append("\(path): torn last record at offset \(validEnd) (\(reason)); the next start cuts it off")
            case .corrupt(let reason, let offset):
                problems.append("\(path): damaged at offset \(offset) (\(reason)); the next start moves it aside")
                continue
            }
            guard let info = scan.info else { continue }
            state.segments.append(info)
            state.heldBytes += scan.fileSize
            state.lastAppended = info.lastID
        }
        state.committed = state.lastAppended
        return Report(running: false, pid: nil, status: state.status(takenAt: Timestamp.nowMilliseconds()), problems: problems)
    }
}
