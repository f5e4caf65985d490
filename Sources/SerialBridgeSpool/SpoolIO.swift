#if canImport(Glibc)
import Glibc
#endif

/// The two calls through which the spool makes frames persistent. Production uses POSIX
/// `pwrite` and `fdatasync`; tests substitute failures (ENOSPC, EIO) or count calls.
public struct SpoolIO: Sendable {
    /// Writes `bytes` at `offset` of `descriptor`: the number written (all of them unless an
    /// error stopped it) and the error (0 when none).
    public var write: @Sendable (_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, _ offset: Int) -> (written: Int, error: Int32)
    /// Flushes a file's data to the disk: 0, or the error.
    public var sync: @Sendable (_ descriptor: Int32) -> Int32

    /// Creates an I/O provider.
    public init(
        write: @escaping @Sendable (Int32, UnsafeRawBufferPointer, Int) -> (written: Int, error: Int32),
        sync: @escaping @Sendable (Int32) -> Int32
    ) {
        self.write = write
        self.sync = sync
    }

    /// `pwrite` (retried until everything is written or it fails) and `fdatasync`.
    public static let posix = SpoolIO(
        write: { descriptor, bytes, offset in
            var written = 0
            while written < bytes.count {
                let result = pwrite(descriptor, bytes.baseAddress.map { $0 + written }, bytes.count - written, off_t(offset + written))
                if result < 0 {
                    if errno == EINTR { continue }
                    return (written, errno)
                }
                if result == 0 { return (written, EIO) }
                written += result
            }
            return (written, 0)
        },
        sync: { descriptor in
            while fdatasync(descriptor) != 0 {
                if errno != EINTR { return errno }
            }
            return 0
        }
    )
}

/// Small POSIX helpers shared by the spool's shell.
enum Posix {
    static func message(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Creates `path` and its missing parents.
    static func makeDirectories(_ path: String) -> Int32 {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST { return errno }
        }
        return 0
    }

    /// Names in a folder (without `.` and `..`), or the error.
    static func list(_ path: String) -> Result<[String], PosixError> {
        guard let directory = opendir(path) else { return .failure(PosixError(code: errno)) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    /// Reads up to `count` bytes at `offset` into `buffer` starting at `into`; bytes read or -errno.
    static func read(_ descriptor: Int32, into buffer: inout [UInt8], at index: Int, count: Int, offset: Int) -> Int {
        buffer.withUnsafeMutableBytes { raw in
            while true {
                let result = pread(descriptor, raw.baseAddress.map { $0 + index }, count, off_t(offset))
                if result < 0 && errno == EINTR { continue }
                return result < 0 ? -Int(errno) : result
            }
        }
    }

    /// Size of an open file, or nil.
    static func size(_ descriptor: Int32) -> Int? {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// fsyncs a folder so that files created or removed in it stay so after a power loss.
    static func syncDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// Replaces `path` with `contents` through a temporary file and a rename; with `durable`, the
    /// data is fsynced before the rename. Returns 0 or the error.
    static func replaceFile(_ path: String, contents: [UInt8], durable: Bool) -> Int32 {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { return errno }
        let (written, error) = contents.withUnsafeBytes { SpoolIO.posix.write(descriptor, $0, 0) }
        let synced = durable ? SpoolIO.posix.sync(descriptor) : 0
        close(descriptor)
        guard error == 0, written == contents.count else { return error == 0 ? EIO : error }
        guard synced == 0 else { return synced }
        return rename(temporary, path) == 0 ? 0 : errno
    }
}

/// An errno, with its message.
struct PosixError: Error, CustomStringConvertible {
    var code: Int32
    var description: String { Posix.message(code) }
}

extension Posix {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}
