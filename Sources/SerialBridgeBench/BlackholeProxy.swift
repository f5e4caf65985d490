import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that can black-hole the link: after ``blackhole()`` no connection moves
/// a byte and none is closed — the proxy stops reading, as a network that drops every packet would,
/// so the sender's socket buffers fill as they would on a real dead path. Connections made during
/// the outage are accepted (the kernel completes the handshake) but never answered.
/// ``restore()`` lets new connections through again and closes the ones that lived through the
/// outage: their peers gave up on them.
///
/// Threads and poll(2), no event loop, so the bench controls the link without sharing anything
/// with the processes under test.
final class BlackholeProxy: Sendable {
    /// The port gateways dial.
    let port: Int
    private let listener: Int32
    private let upstream: Int
    private let state = Mutex<(silent: Bool, stopped: Bool, accepted: Int)>((false, false, 0))

    /// Listens on a free loopback port and relays to 127.0.0.1:`upstream`.
    init(upstream: Int) throws(FaultFailure) {
        self.upstream = upstream
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw FaultFailure("the blackhole proxy cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Connections accepted so far.
    var accepted: Int { state.withLock { $0.accepted } }

    /// Every connection stops moving bytes, and so does every new one.
    func blackhole() { state.withLock { $0.silent = true } }

    /// New connections flow again; the ones black-holed are closed.
    func restore() { state.withLock { $0.silent = false } }

    /// Stops listening; every connection's thread closes it within about 20 ms. Idempotent.
    func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let silent = state.withLock { state -> Bool in
                state.accepted += 1
                return state.silent
            }
            // Accepted during an outage: never connected upstream, closed when the link returns.
            let server = silent ? -1 : dialUpstream()
            Thread.detachNewThread { [self] in relay(client, server, silentFromStart: silent) }
        }
    }

    private func dialUpstream() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: upstream)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    private func relay(_ client: Int32, _ server: Int32, silentFromStart: Bool) {
        defer {
            close(client)
            if server >= 0 { close(server) }
        }
        var wentSilent = silentFromStart
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let (stopped, silent) = state.withLock { ($0.stopped, $0.silent) }
            if stopped || server < 0 && !silent { return }
            if silent {
                wentSilent = true
                usleep(10_000)
                continue
            }
            // The outage is over, and this connection lived through it: its peers gave up on it.
            if wentSilent { return }
            guard poll(&fds, 2, 20) >= 0 || errno == EINTR else { return }
            // Not a byte read once the outage starts: the data stays in the senders' buffers.
            if state.withLock({ $0.silent }) { continue }
            for (index, entry) in fds.enumerated() where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count <= 0 { return }
                let target = index == 0 ? server : client
                var sent = 0
                while sent < count {
                    let written = buffer.withUnsafeBytes { write(target, $0.baseAddress! + sent, count - sent) }
                    if written <= 0 { return }
                    sent += written
                }
            }
        }
    }
}
