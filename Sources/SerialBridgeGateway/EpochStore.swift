#if canImport(Glibc)
import Glibc
#endif

/// The gateway's run epoch: a number that grows at every start and is on disk (fsynced, file and
/// folder) before the first reading of the run is numbered, so no restart can reuse an identity.
public enum EpochStore {
    /// Why the epoch could not be advanced. The gateway must not start without one.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong.
        public var message: String
        public var description: String { message }
    }

    /// Reads `<directory>/epoch` (0 when absent), writes the next value durably, and returns it.
    /// The new epoch is also above `floor`: the highest epoch found in the spool, so that even a
    /// lost or restored epoch file cannot make this run reuse the identities of frames it holds.
    public static func advance(in directory: String, above floor: Int64 = 0) throws(Failure) -> Int64 {
        try makeDirectory(directory)
        let path = directory + "/epoch"
        var current: Int64 = 0
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            close(fd)
            let text = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
                .trimmingCharacters(in: " \n\r\t")
            guard let value = Int64(text), value >= 0 else {
                throw Failure(message: "\(path) holds \"\(text)\", not an epoch number; restore it or set it above every epoch the server has seen")
            }
            current = value
        } else if errno != ENOENT {
            throw Failure(message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        let next = max(current, floor) + 1
        try writeDurably(path: path, contents: Array("\(next)\n".utf8))
        return next
    }

    static func makeDirectory(_ directory: String) throws(Failure) {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST {
                throw Failure(message: "cannot create state directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }

    static func writeDurably(path: String, contents: [UInt8]) throws(Failure) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Failure(message: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == contents.count, synced == 0 else {
            throw Failure(message: "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            throw Failure(message: "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let directoryFD = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = self[...]
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
