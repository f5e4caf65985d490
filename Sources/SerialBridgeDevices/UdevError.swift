/// A libudev call that failed, with what was being done and the C error.
public struct UdevError: Error, Sendable, CustomStringConvertible {
    /// What was being done, e.g. `creating the kernel monitor`.
    public var operation: String
    /// `errno` after the call (0 when libudev did not set it).
    public var errno: Int32

    /// Creates the error.
    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    /// `udev: <operation> failed: <strerror>`.
    public var description: String {
        errno == 0 ? "udev: \(operation) failed" : "udev: \(operation) failed: \(CErrno.message(errno))"
    }
}

#if canImport(Glibc)
import Glibc
#endif

enum CErrno {
    static func message(_ code: Int32) -> String { String(cString: strerror(code)) }
}
