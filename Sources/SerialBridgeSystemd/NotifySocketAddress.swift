#if canImport(Glibc)
import Glibc
#endif

/// Where `sd_notify` datagrams go: `$NOTIFY_SOCKET`, a file-system path (`/run/systemd/notify`)
/// or an abstract socket (`@name`, whose first byte becomes NUL on the wire).
///
/// A value that is neither (relative, empty, too long for `sun_path`, or systemd's `vsock:`
/// form, which this gateway does not speak) is refused, so the caller can say so once.
public struct NotifySocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The bytes of `sun_path` that matter: the path without its terminating NUL, or NUL plus the
    /// abstract name.
    public let pathBytes: [UInt8]
    /// The variable's text, for messages.
    public let description: String

    /// `sun_path` is 108 bytes on Linux.
    static let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)

    /// Parses `$NOTIFY_SOCKET`; nil when it names no socket this process can send to.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        if text.hasPrefix("@") {
            // Abstract: no terminating NUL, the length says where the name ends.
            guard utf8.count >= 2, utf8.count <= Self.capacity else { return nil }
            pathBytes = [0] + utf8.dropFirst()
        } else {
            // A path needs room for its NUL.
            guard text.hasPrefix("/"), utf8.count < Self.capacity, !utf8.contains(0) else { return nil }
            pathBytes = utf8
        }
        description = text
    }

    /// Whether this is an abstract socket (`@name`).
    public var isAbstract: Bool { pathBytes.first == 0 }

    /// Calls `body` with the `sockaddr_un` and the length to pass to `sendto`.
    func withSocketAddress<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        // A path is passed with its NUL (the struct is zeroed); an abstract name without.
        let length = offset + pathBytes.count + (isAbstract ? 0 : 1)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
        }
    }
}
