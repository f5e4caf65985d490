#if canImport(Glibc)
import Glibc
#endif

/// The `/dev/serial/by-id` and `/dev/serial/by-path` symlinks that udevd creates. Where udevd does
/// not run the folders do not exist and every lookup is empty.
public struct SerialLinks: Sendable {
    /// Link path → the absolute device node it points at.
    public var targets: [String: String]

    /// Reads both folders below `root` (default `/dev/serial`) once.
    public static func read(root: String = "/dev/serial") -> SerialLinks {
        var targets: [String: String] = [:]
        for folder in ["by-id", "by-path"] {
            let directory = root + "/" + folder
            for name in entries(directory) {
                let link = directory + "/" + name
                guard let target = readLink(link) else { continue }
                targets[link] = resolve(target, relativeTo: directory)
            }
        }
        return SerialLinks(targets: targets)
    }

    /// Creates the lookup from known links.
    public init(targets: [String: String]) { self.targets = targets }

    /// The by-id links pointing at `devnode`.
    public func byID(_ devnode: String) -> [String] { links(to: devnode, in: "/by-id/") }

    /// The by-path links pointing at `devnode`.
    public func byPath(_ devnode: String) -> [String] { links(to: devnode, in: "/by-path/") }

    private func links(to devnode: String, in folder: String) -> [String] {
        targets.filter { $0.value == devnode && $0.key.contains(folder) }.map(\.key).sorted()
    }

    /// `target` made absolute against `directory`, with `.` and `..` removed
    /// (`../../ttyUSB0` in `/dev/serial/by-id` → `/dev/ttyUSB0`).
    public static func resolve(_ target: String, relativeTo directory: String) -> String {
        var parts: [Substring] = target.hasPrefix("/") ? [] : directory.split(separator: "/")
        for part in target.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    private static func entries(_ directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    private static func readLink(_ path: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let count = buffer.withUnsafeMutableBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: pointer.count) {
                readlink(path, $0, pointer.count - 1)
            }
        }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}
