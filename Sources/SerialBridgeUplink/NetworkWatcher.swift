import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// A change of the host's network that may make a waiting uplink's server reachable again.
public struct NetworkChange: Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// An interface is up and running (carrier).
        case linkUp
        /// An interface got an address.
        case addressAdded
    }

    /// What happened.
    public var kind: Kind
    /// Interface index.
    public var interface: Int32

    /// Creates a change.
    public init(kind: Kind, interface: Int32) {
        self.kind = kind
        self.interface = interface
    }

    public var description: String {
        "\(kind == .linkUp ? "link up" : "address added") on interface \(interface)"
    }
}

/// Reads rtnetlink messages (RTM_NEWLINK, RTM_NEWADDR): a pure parser, so the byte layouts of
/// `nlmsghdr`, `ifinfomsg` and `ifaddrmsg` are tested without a kernel.
public enum RouteNetlink {
    static let newLink: UInt16 = 16
    static let newAddress: UInt16 = 20
    static let interfaceUp: UInt32 = 0x1
    static let interfaceRunning: UInt32 = 0x40
    static let interfaceLoopback: UInt32 = 0x8
    static let hostScope: UInt8 = 254

    /// The changes announced in one datagram (several messages may share it).
    public static func changes(in datagram: UnsafeRawBufferPointer) -> [NetworkChange] {
        var changes: [NetworkChange] = []
        var offset = 0
        while offset + 16 <= datagram.count {
            let length = Int(datagram.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let type = datagram.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            guard length >= 16, offset + length <= datagram.count else { break }
            let body = offset + 16
            if type == newLink, length >= 32 {
                let index = datagram.loadUnaligned(fromByteOffset: body + 4, as: Int32.self)
                let flags = datagram.loadUnaligned(fromByteOffset: body + 8, as: UInt32.self)
                if flags & (interfaceUp | interfaceRunning) == interfaceUp | interfaceRunning, flags & interfaceLoopback == 0 {
                    changes.append(NetworkChange(kind: .linkUp, interface: index))
                }
            } else if type == newAddress, length >= 24 {
                let scope = datagram[body + 3]
                let index = datagram.loadUnaligned(fromByteOffset: body + 4, as: Int32.self)
                if scope != hostScope { changes.append(NetworkChange(kind: .addressAdded, interface: index)) }
            }
            // Messages are 4-byte aligned (NLMSG_ALIGN).
            offset += (length + 3) & ~3
        }
        return changes
    }
}

/// Follows the kernel's routing netlink (link and address groups) and yields every change that may
/// bring the network back. One socket, one dispatch read source; no polling.
///
/// `@unchecked Sendable` is sound because `socket` is immutable after init, and the read source
/// and buffer are touched only on `queue` (a serial queue): the event and cancel handlers target
/// it and `stop()` only enqueues there.
public final class NetworkWatcher: @unchecked Sendable {
    /// Why the watcher could not start.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What failed.
        public var description: String
    }

    private let socket: Int32
    private let queue = DispatchQueue(label: "serialbridge.uplink.netlink")
    private var source: (any DispatchSourceRead)?
    private var buffer = [UInt8](repeating: 0, count: 16_384)

    /// Opens a NETLINK_ROUTE socket subscribed to links and IPv4/IPv6 addresses.
    public init() throws(Failure) {
        let fd = Glibc.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "cannot open a netlink socket: \(String(cString: strerror(errno)))") }
        // struct sockaddr_nl (Glibc does not export it): u16 family, u16 pad, u32 pid (0: the
        // kernel assigns one), u32 groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR.
        var address = [UInt8](repeating: 0, count: 12)
        address.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt16(AF_NETLINK), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: UInt32(0x1 | 0x10 | 0x100), toByteOffset: 8, as: UInt32.self)
        }
        let bound = address.withUnsafeBytes { raw in
            bind(fd, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot subscribe to network changes: \(reason)")
        }
        socket = fd
    }

    /// Network changes until the task iterating them is cancelled.
    public func changes() -> AsyncStream<NetworkChange> {
        AsyncStream { continuation in
            queue.async {
                let source = DispatchSource.makeReadSource(fileDescriptor: self.socket, queue: self.queue)
                source.setEventHandler {
                    while true {
                        let count = self.buffer.withUnsafeMutableBytes { recv(self.socket, $0.baseAddress, $0.count, 0) }
                        guard count > 0 else { break }
                        let changes = self.buffer.withUnsafeBytes { RouteNetlink.changes(in: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                        for change in changes { continuation.yield(change) }
                    }
                }
                source.setCancelHandler {
                    close(self.socket)
                    continuation.finish()
                }
                self.source = source
                source.resume()
            }
            continuation.onTermination = { _ in
                self.queue.async { self.source?.cancel() }
            }
        }
    }
}
