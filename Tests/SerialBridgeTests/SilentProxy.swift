import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 for link-fault tests: relays to `upstream` until ``silence()``, after
/// which every connection it holds stays open but moves no byte (a half-open, black-holed link);
/// ``resume()`` makes new connections flow again. Threads and poll(2), no event loop, so the test
/// controls the link without sharing the gateway's.
final class SilentProxy: Sendable {
    let port: Int
    private let listener: Int32
    private let upstream: Int
    private let state = Mutex((silent: false, stopped: false, connections: 0, sockets: [Int32]()))

    init(upstream: Int) throws {
        self.upstream = upstream
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 16)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: bound.sin_port))
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Connections accepted so far.
    var connections: Int { state.withLock { $0.connections } }

    func silence() { state.withLock { $0.silent = true } }
    func resume() { state.withLock { $0.silent = false } }

    func stop() {
        let sockets = state.withLock { state -> [Int32] in
            state.stopped = true
            return state.sockets
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while !state.withLock({ $0.stopped }) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            guard let server = dialLoopback(port: upstream) else {
                close(client)
                continue
            }
            // A connection accepted while silent is black-holed from the start.
            let bornSilent = state.withLock { state -> Bool in
                state.connections += 1
                state.sockets += [client, server]
                return state.silent
            }
            Thread { [self] in relay(client, server, silentFromStart: bornSilent) }.start()
        }
    }

    private func relay(_ a: Int32, _ b: Int32, silentFromStart: Bool) {
        defer {
            close(a)
            close(b)
        }
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var silent = silentFromStart
        while true {
            let (stopped, nowSilent) = state.withLock { ($0.stopped, $0.silent) }
            if stopped { return }
            // Once a connection goes silent it stays silent: a half-open link does not heal.
            silent = silent || nowSilent
            if silent {
                usleep(10_000)
                continue
            }
            guard poll(&fds, 2, 20) >= 0 else { return }
            // Bytes that arrive after silence() are never forwarded.
            if state.withLock({ $0.silent }) {
                silent = true
                continue
            }
            for (index, entry) in fds.enumerated() where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count <= 0 { return }
                let target = index == 0 ? b : a
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
