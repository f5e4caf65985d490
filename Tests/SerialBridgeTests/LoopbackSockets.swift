import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Plain sockets on 127.0.0.1 for the tests' relays (``SilentProxy``, ``CloseSpyProxy``), which
/// run on threads of their own with poll(2), outside any event loop.
struct LoopbackSocketError: Error, CustomStringConvertible {
    var call: String
    var code: Int32
    var description: String { "\(call): \(String(cString: strerror(code)))" }
}

/// A listening TCP socket on 127.0.0.1 with a free port.
func listenOnLoopback() throws -> (descriptor: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LoopbackSocketError(call: "socket", code: errno) }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard bound == 0, listen(fd, 16) == 0 else {
        let code = errno
        close(fd)
        throw LoopbackSocketError(call: "bind/listen", code: code)
    }
    var local = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return (fd, Int(UInt16(bigEndian: local.sin_port)))
}

/// Writes all of `bytes` to `descriptor`; false when the peer is gone.
func writeAll(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
    bytes.withUnsafeBytes { raw in
        var sent = 0
        while sent < raw.count {
            guard let base = raw.baseAddress else { return false }
            let written = write(descriptor, base + sent, raw.count - sent)
            if written <= 0 { return false }
            sent += written
        }
        return true
    }
}

/// A TCP connection to `127.0.0.1:port`, or nil when nobody listens there.
func dialLoopback(port: Int) -> Int32? {
    let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard server >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(server)
        return nil
    }
    return server
}
