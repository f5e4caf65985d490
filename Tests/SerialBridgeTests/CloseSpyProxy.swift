import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay on 127.0.0.1 that keeps what clients send, so a test can read the close code a
/// gateway put in its WebSocket close frame (the server library does not report it). Threads and
/// poll(2), like ``SilentProxy``.
final class CloseSpyProxy: Sendable {
    let port: Int
    private let listener: Int32
    private let upstream: Int
    private let state = Mutex((stopped: false, sent: [[UInt8]](), sockets: [Int32]()))

    init(upstream: Int) throws {
        self.upstream = upstream
        (listener, port) = try listenOnLoopback()
        Thread { [self] in acceptLoop() }.start()
    }

    /// The close codes clients sent, one per connection that sent a close frame, in connection order.
    var clientCloseCodes: [UInt16] {
        state.withLock { $0.sent }.compactMap(Self.closeCode)
    }

    func stop() {
        let sockets = state.withLock { state -> [Int32] in
            state.stopped = true
            return state.sockets
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    /// The code of the first close frame in a client's byte stream: after the HTTP upgrade
    /// request, masked frames (RFC 6455 §5.2); control frames are never compressed.
    static func closeCode(_ bytes: [UInt8]) -> UInt16? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<($0 + 4)].elementsEqual(separator) }) else { return nil }
        var index = end + 4
        while index + 2 <= bytes.count {
            let opcode = bytes[index] & 0x0F
            let masked = bytes[index + 1] & 0x80 != 0
            var length = Int(bytes[index + 1] & 0x7F)
            index += 2
            if length == 126 {
                guard index + 2 <= bytes.count else { return nil }
                length = Int(bytes[index]) << 8 | Int(bytes[index + 1])
                index += 2
            } else if length == 127 {
                guard index + 8 <= bytes.count else { return nil }
                length = bytes[index..<(index + 8)].reduce(0) { $0 << 8 | Int($1) }
                index += 8
            }
            var mask: [UInt8] = [0, 0, 0, 0]
            if masked {
                guard index + 4 <= bytes.count else { return nil }
                mask = Array(bytes[index..<(index + 4)])
                index += 4
            }
            guard index + length <= bytes.count else { return nil }
            if opcode == 0x8, length >= 2 {
                let high = bytes[index] ^ mask[0]
                let low = bytes[index + 1] ^ mask[1]
                return UInt16(high) << 8 | UInt16(low)
            }
            index += length
        }
        return nil
    }

    private func acceptLoop() {
        while !state.withLock({ $0.stopped }) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            guard let server = dialLoopback(port: upstream) else {
                close(client)
                continue
            }
            let slot = state.withLock { state -> Int in
                state.sockets += [client, server]
                state.sent.append([])
                return state.sent.count - 1
            }
            Thread { [self] in relay(client, server, slot: slot) }.start()
        }
    }

    private func relay(_ client: Int32, _ server: Int32, slot: Int) {
        defer {
            close(client)
            close(server)
        }
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !state.withLock({ $0.stopped }) {
            guard poll(&fds, 2, 50) >= 0 else { return }
            for (index, entry) in fds.enumerated() where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count <= 0 { return }
                if index == 0 { state.withLock { $0.sent[slot] += buffer[0..<count] } }
                guard writeAll(index == 0 ? server : client, buffer[0..<count]) else { return }
            }
        }
    }
}
