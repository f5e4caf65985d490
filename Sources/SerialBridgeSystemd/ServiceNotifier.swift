import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Tells the service manager (systemd) how the service is doing: `sd_notify` without libsystemd,
/// one datagram per message to `$NOTIFY_SOCKET`.
///
/// Without `NOTIFY_SOCKET` every call is a no-op, so the gateway and server run the same under a
/// terminal, a container or systemd. A failure to send (socket gone, queue full) is logged once
/// and never stops the service: a missed READY or WATCHDOG is the service manager's to act on.
/// Sends never block (`MSG_DONTWAIT`).
public final class ServiceNotifier: Sendable {
    /// Where messages go; nil when `NOTIFY_SOCKET` is unset or unusable.
    public let address: NotifySocketAddress?
    /// The watchdog interval the service manager expects pings within (`WATCHDOG_USEC`), when it
    /// set one for this process (`WATCHDOG_PID` absent or this process's id); ping every half of it.
    public let watchdogInterval: Duration?
    private let descriptor: Int32
    private let complained = Atomic<Bool>(false)
    private let logger: Logger

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` through `environment` and opens a
    /// datagram socket when there is somewhere to send. Problems with the variables are logged.
    public init(environment: (String) -> String?, logger: Logger) {
        self.logger = logger
        var address: NotifySocketAddress?
        if let text = environment("NOTIFY_SOCKET"), !text.isEmpty {
            address = NotifySocketAddress(text)
            if address == nil {
                logger.warning("NOTIFY_SOCKET=\(text) is not an absolute path or @abstract name; not notifying the service manager")
            }
        }
        var descriptor: Int32 = -1
        if address != nil {
            descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if descriptor < 0 {
                logger.warning("cannot open a socket to notify the service manager: \(String(cString: strerror(errno))); carrying on without")
                address = nil
            }
        }
        self.address = address
        self.descriptor = descriptor
        self.watchdogInterval = address == nil ? nil : Self.readWatchdogInterval(environment, logger: logger)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Whether messages go anywhere.
    public var isEnabled: Bool { address != nil }

    /// The watchdog interval from `WATCHDOG_USEC`, if it is meant for this process.
    static func readWatchdogInterval(_ environment: (String) -> String?, logger: Logger) -> Duration? {
        guard let text = environment("WATCHDOG_USEC"), !text.isEmpty else { return nil }
        if let pid = environment("WATCHDOG_PID"), !pid.isEmpty, pid != "\(getpid())" {
            // Set for another process (e.g. a wrapper that exec'd us under another pid).
            return nil
        }
        guard let microseconds = UInt64(text), microseconds > 0, microseconds < UInt64(Int64.max / 1000) else {
            logger.warning("WATCHDOG_USEC=\(text) is not a positive number of microseconds; no watchdog pings")
            return nil
        }
        return .microseconds(Int64(microseconds))
    }

    /// Sends `state`, newline-separated `KEY=value` assignments; false when it could not be sent
    /// (or there is nowhere to send). The first failure is logged, later ones are not.
    @discardableResult
    public func send(_ state: String) -> Bool {
        guard let address else { return false }
        let bytes = Array(state.utf8)
        let sent = address.withSocketAddress { pointer, length in
            bytes.withUnsafeBytes { raw in
                sendto(descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), pointer, length)
            }
        }
        if sent == bytes.count { return true }
        let reason = sent < 0 ? String(cString: strerror(errno)) : "short send"
        if !complained.exchange(true, ordering: .relaxed) {
            logger.warning("cannot notify the service manager at \(address): \(reason); carrying on (further failures are not logged)")
        }
        return false
    }

    /// `READY=1`: start-up is complete (and, after a reload, the reload is).
    @discardableResult
    public func ready(status: String? = nil) -> Bool {
        send("READY=1" + Self.statusLine(status))
    }

    /// `STATUS=…`: one line for `systemctl status`.
    @discardableResult
    public func status(_ text: String) -> Bool {
        send("STATUS=" + Self.flattened(text))
    }

    /// `WATCHDOG=1`: the service is alive and healthy.
    @discardableResult
    public func watchdog() -> Bool { send("WATCHDOG=1") }

    /// `RELOADING=1` with `MONOTONIC_USEC` (the time the reload began, as systemd wants it); send
    /// ``ready(status:)`` when the reload is done.
    @discardableResult
    public func reloading(status: String? = nil) -> Bool {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())" + Self.statusLine(status))
    }

    /// `STOPPING=1`: shutdown has begun.
    @discardableResult
    public func stopping(status: String? = nil) -> Bool {
        send("STOPPING=1" + Self.statusLine(status))
    }

    /// `\nSTATUS=text` with newlines flattened (a newline would start another assignment).
    static func statusLine(_ text: String?) -> String {
        text.map { "\nSTATUS=" + flattened($0) } ?? ""
    }

    static func flattened(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }

    /// CLOCK_MONOTONIC in microseconds: the clock systemd compares `MONOTONIC_USEC` with.
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
