#if canImport(Glibc)
import Glibc
#endif

/// Why a serial port or pseudo-terminal operation failed, with the path and the system error.
public struct SerialPortError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being attempted.
    public enum Operation: String, Sendable {
        case open, lock, configure, ptyCreate = "create pseudo-terminal", symlink
    }

    /// The operation that failed.
    public var operation: Operation
    /// The device path involved.
    public var path: String
    /// The `errno` value, 0 when the failure is not a system error.
    public var errno: Int32
    /// Extra detail, if any.
    public var detail: String?

    /// Creates an error.
    public init(_ operation: Operation, path: String, errno: Int32, detail: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    /// True when another process holds the port.
    public var isBusy: Bool { errno == EBUSY || errno == EWOULDBLOCK }

    /// A message an operator can act on.
    public var description: String {
        var text = "cannot \(operation.rawValue) \(path)"
        if errno != 0 { text += ": \(String(cString: strerror(errno)))" }
        if let detail { text += " (\(detail))" }
        if errno == EACCES || errno == EPERM {
            text += "; add the gateway's user to the group that owns the device, usually `dialout`"
        }
        if isBusy && operation == .lock {
            text += "; another process holds the port"
        }
        return text
    }
}
