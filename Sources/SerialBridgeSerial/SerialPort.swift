import CSerialSupport

#if canImport(Glibc)
import Glibc
#endif

/// An open serial port: a tty file descriptor in raw mode with the requested line settings, held
/// exclusively (`flock` plus `TIOCEXCL`) until ``close()``.
///
/// The port owns its descriptor. Readers that want their own descriptor (SwiftNIO takes ownership
/// of the one it is given) call ``duplicateDescriptor()``: the lock lives on the shared open file
/// description, so it holds until the last duplicate is closed.
public final class SerialPort: Sendable {
    /// The path the port was opened from.
    public let path: String
    /// The settings that were applied.
    public let settings: SerialSettings
    /// The underlying descriptor, valid until ``close()``.
    public let fileDescriptor: Int32
    // `termios` is a plain C struct of integers; it is only read in `close()`.
    private let savedAttributes: termios

    private init(path: String, settings: SerialSettings, fileDescriptor: Int32, saved: termios) {
        self.path = path
        self.settings = settings
        self.fileDescriptor = fileDescriptor
        self.savedAttributes = saved
    }

    /// Opens `path` non-blocking without becoming its controlling terminal, takes an exclusive lock,
    /// puts the line in raw mode with `settings`, and keeps whatever bytes are already waiting.
    ///
    /// - Throws: ``SerialPortError`` naming the step that failed (busy, permission, unsupported setting).
    public static func open(path: String, settings: SerialSettings) throws(SerialPortError) -> SerialPort {
        let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SerialPortError(.open, path: path, errno: Glibc.errno) }
        // TIOCEXCL alone is bypassed by root; flock is honoured by every cooperating process.
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = Glibc.errno
            Glibc.close(fd)
            throw SerialPortError(.lock, path: path, errno: code)
        }
        _ = ioctl(fd, UInt(TIOCEXCL))
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else {
            let code = Glibc.errno
            Glibc.close(fd)
            throw SerialPortError(.configure, path: path, errno: code, detail: "not a tty?")
        }
        do {
            try apply(settings, to: fd, base: saved, path: path)
        } catch {
            Glibc.close(fd)
            throw error
        }
        setModemLines(settings, on: fd)
        return SerialPort(path: path, settings: settings, fileDescriptor: fd, saved: saved)
    }

    /// Sets DTR and RTS as asked. Pseudo-terminals and some adapters have no modem lines; that is
    /// not an error, since the data still flows.
    static func setModemLines(_ settings: SerialSettings, on fd: Int32) {
        var raise: Int32 = 0
        var lower: Int32 = 0
        if let dtr = settings.dtr {
            if dtr { raise |= TIOCM_DTR } else { lower |= TIOCM_DTR }
        }
        if let rts = settings.rts {
            if rts { raise |= TIOCM_RTS } else { lower |= TIOCM_RTS }
        }
        if raise != 0 { _ = ioctl(fd, UInt(TIOCMBIS), &raise) }
        if lower != 0 { _ = ioctl(fd, UInt(TIOCMBIC), &lower) }
    }

    /// Applies raw mode and `settings` to an open tty descriptor.
    static func apply(_ settings: SerialSettings, to fd: Int32, base: termios, path: String) throws(SerialPortError) {
        var attributes = base
        cfmakeraw(&attributes)
        attributes.c_cflag |= tcflag_t(CLOCAL | CREAD)
        attributes.c_cflag &= ~tcflag_t(CSIZE)
        switch settings.dataBits {
        case 5: attributes.c_cflag |= tcflag_t(CS5)
        case 6: attributes.c_cflag |= tcflag_t(CS6)
        case 7: attributes.c_cflag |= tcflag_t(CS7)
        case 8: attributes.c_cflag |= tcflag_t(CS8)
        default:
            throw SerialPortError(.configure, path: path, errno: 0, detail: "data bits must be 5 to 8, not \(settings.dataBits)")
        }
        switch settings.parity {
        case .none: attributes.c_cflag &= ~tcflag_t(PARENB | PARODD)
        case .even:
            attributes.c_cflag |= tcflag_t(PARENB)
            attributes.c_cflag &= ~tcflag_t(PARODD)
        case .odd: attributes.c_cflag |= tcflag_t(PARENB | PARODD)
        }
        switch settings.stopBits {
        case 1: attributes.c_cflag &= ~tcflag_t(CSTOPB)
        case 2: attributes.c_cflag |= tcflag_t(CSTOPB)
        default:
            throw SerialPortError(.configure, path: path, errno: 0, detail: "stop bits must be 1 or 2, not \(settings.stopBits)")
        }
        attributes.c_cflag &= ~tcflag_t(CRTSCTS)
        attributes.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        switch settings.flowControl {
        case .none: break
        case .rtsCts: attributes.c_cflag |= tcflag_t(CRTSCTS)
        case .xonXoff: attributes.c_iflag |= tcflag_t(IXON | IXOFF)
        }
        // Non-blocking reads are driven by the event loop; VMIN/VTIME only matter to blocking readers.
        withUnsafeMutableBytes(of: &attributes.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        let standard = standardSpeed(settings.baudRate)
        if let standard {
            cfsetispeed(&attributes, standard)
            cfsetospeed(&attributes, standard)
        }
        // TCSANOW, not TCSAFLUSH: bytes already waiting are the device's data, not noise.
        guard tcsetattr(fd, TCSANOW, &attributes) == 0 else {
            throw SerialPortError(.configure, path: path, errno: Glibc.errno)
        }
        if standard == nil {
            guard settings.baudRate > 0, sb_set_custom_baud(fd, UInt32(settings.baudRate)) == 0 else {
                throw SerialPortError(.configure, path: path, errno: Glibc.errno, detail: "baud rate \(settings.baudRate)")
            }
        }
    }

    /// The termios constant for a standard rate, or nil when the rate needs termios2.
    static func standardSpeed(_ rate: Int) -> speed_t? {
        switch rate {
        case 1200: return speed_t(B1200)
        case 2400: return speed_t(B2400)
        case 4800: return speed_t(B4800)
        case 9600: return speed_t(B9600)
        case 19200: return speed_t(B19200)
        case 38400: return speed_t(B38400)
        case 57600: return speed_t(B57600)
        case 115200: return speed_t(B115200)
        case 230400: return speed_t(B230400)
        case 460800: return speed_t(B460800)
        case 921600: return speed_t(B921600)
        default: return nil
        }
    }

    /// A new descriptor for the same open port, for a reader that takes ownership of what it is given.
    public func duplicateDescriptor() throws(SerialPortError) -> Int32 {
        let copy = fcntl(fileDescriptor, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw SerialPortError(.open, path: path, errno: Glibc.errno, detail: "dup") }
        return copy
    }

    /// Restores the settings the port had before it was opened and closes the descriptor.
    /// The lock is released once every duplicate is closed too.
    public func close() {
        var saved = savedAttributes
        _ = tcsetattr(fileDescriptor, TCSANOW, &saved)
        _ = ioctl(fileDescriptor, UInt(TIOCNXCL))
        Glibc.close(fileDescriptor)
    }
}
