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
        (listener, port) = try listenOnLoopback()
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
                guard writeAll(index == 0 ? b : a, buffer[0..<count]) else { return }
            }
        }
    }
}
