import SerialBridgeProfiles
import SerialBridgeSimulator
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal standing in for one serial device, written by the bench itself: the same pty
/// `serialbridge simulate` plays on (made by the simulator library, symlinked at `link`), for the
/// devices whose output a scenario must know line by line (counting lines) or that no profile
/// simulates (garbage).
///
/// The master side is non-blocking so that a writer thread can give up when told to stop even while
/// no gateway reads (a pty takes only a few KiB before writes would block).
final class FaultTerminal: Sendable {
    /// The symlink the gateway's config names.
    let link: String
    private let runner: SimulatorRunner
    private let closed = Mutex(false)

    /// Creates the pty and its symlink. `profile` only has to be one the simulator can play.
    init(link: String, profile: DeviceProfile) throws {
        self.link = link
        runner = try SimulatorRunner(profile: profile, rate: 1, link: link)
        let master = runner.terminal.masterDescriptor
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    /// Writes `bytes` until all are written or `stopped()` returns true (checked at least every
    /// 50 ms while the tty is full). Returns how many bytes were written.
    func write(_ bytes: UnsafeRawBufferPointer, stopped: () -> Bool) -> Int {
        let master = runner.terminal.masterDescriptor
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(master, bytes.baseAddress! + offset, bytes.count - offset)
            if written > 0 {
                offset += written
                continue
            }
            if written < 0, errno != EAGAIN, errno != EINTR { return offset }
            if stopped() { return offset }
            var entry = pollfd(fd: master, events: Int16(POLLOUT), revents: 0)
            _ = poll(&entry, 1, 50)
        }
        return offset
    }

    /// Removes the link and closes both sides: the device is gone. Idempotent (a descriptor
    /// number closed twice could be another file's by then).
    func close() {
        guard closed.withLock({ closed in defer { closed = true }; return !closed }) else { return }
        unlink(link)
        runner.terminal.close()
    }
}
