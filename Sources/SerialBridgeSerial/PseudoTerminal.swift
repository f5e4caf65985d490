import CSerialSupport

#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal pair standing in for a serial device: the simulator writes device output to
/// the master side, and the gateway opens ``slavePath`` as if it were `/dev/ttyUSB0`.
///
/// The pair keeps its own descriptor on the slave side open for its whole life, so that bytes
/// written while no gateway is reading are buffered for the next reader instead of being lost,
/// and so that a gateway closing the port does not hang up the master.
public final class PseudoTerminal: Sendable {
    /// The master descriptor: writes here arrive at readers of ``slavePath``.
    public let masterDescriptor: Int32
    /// The slave tty path, e.g. `/dev/pts/7`.
    public let slavePath: String
    private let slaveKeepAlive: Int32

    /// Creates a pair whose slave side is in raw mode, so that nothing is echoed or translated.
    public init() throws(SerialPortError) {
        var name = [CChar](repeating: 0, count: 128)
        let master = sb_open_pty_master(&name, name.count)
        guard master >= 0 else { throw SerialPortError(.ptyCreate, path: "/dev/ptmx", errno: Glibc.errno) }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let slave = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            let code = Glibc.errno
            Glibc.close(master)
            throw SerialPortError(.ptyCreate, path: path, errno: code)
        }
        var attributes = termios()
        tcgetattr(slave, &attributes)
        cfmakeraw(&attributes)
        tcsetattr(slave, TCSANOW, &attributes)
        self.masterDescriptor = master
        self.slavePath = path
        self.slaveKeepAlive = slave
    }

    /// Writes all of `bytes` to the master side, blocking while the tty buffer is full.
    public func write(_ bytes: some Sequence<UInt8>) throws(SerialPortError) {
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let written = array.withUnsafeBytes { raw in
                Glibc.write(masterDescriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if Glibc.errno == EINTR { continue }
                throw SerialPortError(.open, path: slavePath, errno: Glibc.errno, detail: "write")
            }
            offset += written
        }
    }

    /// Makes `link` a symbolic link to ``slavePath``, replacing an existing link (never a regular file).
    public func link(at link: String) throws(SerialPortError) {
        var status = stat()
        if lstat(link, &status) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFLNK else {
                throw SerialPortError(.symlink, path: link, errno: EEXIST, detail: "exists and is not a symbolic link")
            }
            unlink(link)
        }
        guard symlink(slavePath, link) == 0 else { throw SerialPortError(.symlink, path: link, errno: Glibc.errno) }
    }

    /// Closes both sides. Readers of the slave then see end of file or EIO.
    public func close() {
        Glibc.close(slaveKeepAlive)
        Glibc.close(masterDescriptor)
    }
}
