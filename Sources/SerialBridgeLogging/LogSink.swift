#if canImport(Glibc)
import Glibc
#endif

/// Where finished log lines go.
public protocol LogSink: Sendable {
    /// Writes one finished line (or, for a multi-line journald message, its lines).
    func write(_ line: [UInt8])
}

/// A file descriptor, standard error by default. Each line is one `write(2)` call, so lines from
/// different threads do not interleave in a pipe or the journal's stream socket (the kernel keeps
/// a single write to either whole up to the pipe buffer size); no lock is needed for that.
public struct DescriptorLogSink: LogSink {
    /// The descriptor written to.
    public let descriptor: Int32

    /// Writes to `descriptor` (2, standard error, by default).
    public init(descriptor: Int32 = 2) { self.descriptor = descriptor }

    /// Writes the whole line, retrying after a signal; a failing descriptor drops it.
    public func write(_ line: [UInt8]) {
        line.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(descriptor, base + offset, raw.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return  // nowhere to report a failing log stream; drop the line
                }
            }
        }
    }
}
