#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking WebSocket client for the server's `/live` feed on loopback: upgrade without
/// an `Origin` header (a script, not a page: WSClient always sends `Origin: ws://HOST`, which the
/// server refuses as no http(s) origin) and without compression, then text messages one by one;
/// pings are answered.
struct LiveSocket: ~Copyable {
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port` and upgrades `path`; nil when the server refuses.
    init?(port: Int, path: String = "/live") {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: c2VyaWFsYnJpZGdlYmVuY2g=\r\nSec-WebSocket-Version: 13\r\n\r\n"
        guard connected == 0, Self.send(fd, Array(request.utf8)) else {
            close(fd)
            return nil
        }
        // The 101 answer ends with an empty line; frames may follow in the same read.
        while true {
            if let end = Self.headerEnd(buffer) {
                guard buffer.starts(with: Array("HTTP/1.1 101".utf8)) else { break }
                buffer.removeFirst(end)
                return
            }
            guard receive() else { break }
        }
        close(fd)
        return nil
    }

    deinit { close(fd) }

    /// The next text message; nil when the connection ends.
    mutating func next() -> [UInt8]? {
        var message: [UInt8] = []
        while true {
            guard let (opcode, fin, payload) = frame() else { return nil }
            switch opcode {
            case 0x8: return nil
            case 0x9: _ = Self.send(fd, Self.masked(opcode: 0xA, payload))
            case 0xA: continue
            default:
                message += payload
                if fin { return message }
            }
        }
    }

    private mutating func frame() -> (UInt8, Bool, [UInt8])? {
        while true {
            if buffer.count >= 2 {
                var length = Int(buffer[1] & 0x7F)
                var header = 2
                if length == 126, buffer.count >= 4 {
                    length = Int(buffer[2]) << 8 | Int(buffer[3])
                    header = 4
                } else if length == 127, buffer.count >= 10 {
                    length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
                    header = 10
                }
                let complete = (length < 126 || header > 2) && buffer.count >= header + length
                if complete {
                    let frame = (buffer[0] & 0x0F, buffer[0] & 0x80 != 0, Array(buffer[header..<(header + length)]))
                    buffer.removeFirst(header + length)
                    return frame
                }
            }
            guard receive() else { return nil }
        }
    }

    private mutating func receive() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }
    }

    /// Ends a blocked ``next()`` from another thread.
    static func shutdown(_ socket: Int32) { _ = Glibc.shutdown(socket, Int32(SHUT_RDWR)) }

    /// The descriptor, for ``shutdown(_:)``.
    var descriptor: Int32 { fd }

    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    /// A client frame: always masked (RFC 6455 §5.3); the mask need not be secret here.
    private static func masked(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let mask: [UInt8] = [0x5B, 0x1D, 0x7E, 0x02]
        var frame: [UInt8] = [0x80 | opcode, 0x80 | UInt8(min(payload.count, 125))]
        frame += mask
        for (index, byte) in payload.prefix(125).enumerated() { frame.append(byte ^ mask[index % 4]) }
        return frame
    }

    private static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }
}
