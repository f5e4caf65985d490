#if canImport(Glibc)
import Glibc
#endif

/// Reads whole small files (profiles, configs, tokens) with the system's own error text.
public enum FileContents {
    /// Largest file read; profiles and configs are a few KiB.
    public static let maxBytes = 4 << 20

    /// The file's bytes.
    /// - Throws: a message such as `No such file or directory` or `file exceeds 4194304 bytes`.
    public static func read(_ path: String, limit: Int = maxBytes) throws(FileReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileReadError(message: String(cString: strerror(errno)))
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
            if result.count > limit { throw FileReadError(message: "file exceeds \(limit) bytes") }
        }
    }
}

/// Why a file could not be read.
public struct FileReadError: Error, Sendable, CustomStringConvertible {
    /// The system's explanation.
    public var message: String
    public var description: String { message }
}
