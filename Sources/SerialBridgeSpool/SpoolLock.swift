#if canImport(Glibc)
import Glibc
#endif

/// The spool folder's `lock` file: a running gateway holds an exclusive `flock` on it (and has
/// written its pid in it), so two gateways never share a spool, and `spool status` can tell a
/// running gateway (read its status file) from a stopped one (scan the segments) without
/// disturbing either. The lock goes with the descriptor: closing it, or the process dying,
/// releases it.
enum SpoolLock {
    static let fileName = "lock"

    /// Takes the exclusive lock and returns its descriptor, retrying for up to `patience` (a
    /// `spool status` may hold a shared lock for a moment).
    static func acquire(directory: String, patience: Duration = .seconds(5)) throws(SpoolError) -> Int32 {
        let path = directory + "/" + fileName
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw .folder(path: path, reason: Posix.message(errno)) }
        let deadline = ContinuousClock.now + patience
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else {
                let pid = holder(descriptor)
                close(descriptor)
                throw .locked(path: directory, pid: pid)
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            nanosleep(&pause, nil)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { SpoolIO.posix.write(descriptor, $0, 0) }
        return descriptor
    }

    /// Whether a process holds the lock of `directory`.
    enum Probe {
        /// There is no spool there.
        case noSpool
        /// A process (pid, when it wrote one) holds it: a gateway is running.
        case held(pid: String?)
        /// Nobody holds it; the descriptor keeps a shared lock, so no gateway starts on the spool
        /// until it is closed.
        case free(descriptor: Int32)
    }

    static func probe(directory: String) -> Probe {
        let descriptor = open(directory + "/" + fileName, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .noSpool }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 { return .free(descriptor: descriptor) }
        let pid = holder(descriptor)
        close(descriptor)
        return .held(pid: pid)
    }

    private static func holder(_ descriptor: Int32) -> String? {
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = Posix.read(descriptor, into: &bytes, at: 0, count: bytes.count, offset: 0)
        let text = String(decoding: bytes.prefix(max(0, count)), as: UTF8.self).filter(\.isNumber)
        return text.isEmpty ? nil : text
    }
}
