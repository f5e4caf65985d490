/// Why the spool could not be opened, or a problem it reports while carrying on.
public enum SpoolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The spool folder cannot be created or listed.
    case folder(path: String, reason: String)
    /// Another process (usually another gateway with the same state directory) holds the spool.
    case locked(path: String, pid: String?)
    /// `marks.json` cannot be read; the spool carries on as if nothing had been acknowledged.
    case damagedMarks(path: String, reason: String)

    public var description: String {
        switch self {
        case .folder(let path, let reason):
            "spool folder \(path): \(reason)"
        case .locked(let path, let pid):
            "the spool \(path) is in use by another process\(pid.map { " (pid \($0))" } ?? ""); is another gateway running with the same stateDirectory?"
        case .damagedMarks(let path, let reason):
            "\(path) is damaged (\(reason)); every frame held will be sent again and the server will ignore those it has"
        }
    }
}
