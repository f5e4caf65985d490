import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A file the server re-reads when it changes, without a restart: its device, inode, size and
/// modification time are compared on every ``current(logger:)`` (one `stat`, no read) and the file is
/// parsed again when any of them differs. Editors and `SecretFile.replace` rename a new file into
/// place (new inode); an in-place edit changes the size or the nanosecond mtime.
///
/// A file that fails to parse after an edit (or disappears) leaves the last good value in force
/// and is logged once per change, so a typo cannot lock every gateway or person out.
final class WatchedFile<Value: Sendable>: Sendable {
    /// What identifies one version of the file.
    struct Signature: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
    }

    private struct State {
        var signature: Signature?
        var value: Value
        /// Bumped at every successful reload, so watchers can tell that something changed.
        var generation: Int
        /// The problem last logged, to log each one once.
        var reportedProblem: String?
        /// The version that failed to parse: not parsed again until the file changes once more.
        var brokenSignature: Signature?
    }

    let path: String
    private let parse: @Sendable (String) throws(ServerConfigError) -> Value
    private let state: Mutex<State>

    /// Loads the file; it must be good at start.
    /// - Parameter parse: turns the file's path into its value (reads the file itself).
    /// - Throws: ``ServerConfigError`` from `parse`.
    init(path: String, parse: @escaping @Sendable (String) throws(ServerConfigError) -> Value) throws(ServerConfigError) {
        self.path = path
        self.parse = parse
        let signature = Self.signature(of: path)
        let value = try parse(path)
        state = Mutex(State(signature: try? signature.get(), value: value, generation: 0))
    }

    /// The value, re-read first when the file changed.
    /// - Returns: the value in force and its generation.
    func current(logger: Logger?) -> (value: Value, generation: Int) {
        // Holding the lock while re-reading makes concurrent callers wait for one reload instead of
        // each doing their own; the file is small.
        state.withLock { state in
            switch Self.signature(of: path) {
            case .failure(let error):
                let problem = "\(path): \(error); keeping the last good contents"
                if state.reportedProblem != problem {
                    state.reportedProblem = problem
                    logger?.error("\(problem)")
                }
            case .success(let signature) where signature != state.signature && signature != state.brokenSignature:
                do {
                    state.value = try parse(path)
                    state.signature = signature
                    state.generation += 1
                    state.reportedProblem = nil
                    state.brokenSignature = nil
                    logger?.notice("reloaded \(path)")
                } catch {
                    state.brokenSignature = signature
                    let problem = "\(error) (keeping the last good contents of \(path) until it is fixed)"
                    if state.reportedProblem != problem {
                        state.reportedProblem = problem
                        logger?.error("\(problem)")
                    }
                }
            case .success:
                break
            }
            return (state.value, state.generation)
        }
    }

    private struct StatError: Error, CustomStringConvertible {
        var description: String
    }

    private static func signature(of path: String) -> Result<Signature, StatError> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(StatError(description: "cannot stat: \(String(cString: strerror(errno)))")) }
        return .success(Signature(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedSeconds: Int(info.st_mtim.tv_sec), modifiedNanoseconds: Int(info.st_mtim.tv_nsec)
        ))
    }
}
