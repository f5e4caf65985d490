#if canImport(Glibc)
import Glibc
#endif
import SerialBridgeJSON

/// Replaces the token and user files the way an editor should: write a new file beside the old
/// one, flush it, then rename it over the old one. A reader (the running server) sees the old or
/// the new contents, never half of either, and the rename gives the file a new inode, which is how
/// the server notices the change.
enum SecretFile {
    /// Writes `text` to `path` atomically, readable by its owner only (0600).
    /// - Throws: ``ServerConfigError`` with the system's reason.
    static func replace(_ path: String, with text: String) throws(ServerConfigError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServerConfigError("\(path): cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw ServerConfigError("\(path): cannot write \(temporary): \(reason)")
            }
            written += count
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ServerConfigError("\(path): cannot replace the file: \(reason)")
        }
    }

    /// The file's text, or "" when it does not exist yet (the first `add` creates it).
    static func readIfPresent(_ path: String) throws(ServerConfigError) -> String {
        if access(path, F_OK) != 0 && errno == ENOENT { return "" }
        do {
            return String(decoding: try FileContents.read(path), as: UTF8.self)
        } catch {
            throw ServerConfigError("\(path): cannot read: \(error)")
        }
    }
}

/// Times written into the token file: UTC, to the second, ISO 8601 (`2026-05-01T12:00:00Z`).
enum UTCTime {
    /// Formats seconds since 1970.
    static func format(secondsSince1970 seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    /// Now, as seconds since 1970.
    static func nowSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
