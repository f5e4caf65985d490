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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 16)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: bound.sin_port))
        listener = fd
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
