import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A process the fault suite started: spawned in a process group of its own (so that a kill reaches
/// anything it may start, and the terminal's Ctrl-C reaches only the bench, which then cleans up),
/// with standard output and error appended to a log file.
final class FaultChild: Sendable {
    /// What the process is, for messages (`server`, `gateway`, `simulator`).
    let name: String
    /// Its pid, which is also its process group id.
    let pid: pid_t
    /// Where its output goes.
    let log: String
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`; standard input is /dev/null.
    init(name: String, executable: String, arguments: [String], log: String) throws(FaultFailure) {
        self.name = name
        self.log = log
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The bench ignores or catches these; the child must get their default actions back, and
        // an empty signal mask.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw FaultFailure("cannot start \(name) (\(executable)): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// Whether the process has not exited yet (reaps it when it has).
    var isRunning: Bool {
        status.withLock { status in
            guard status == nil else { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            return status == nil
        }
    }

    /// How it ended, once it has: `exit 0`, `killed by signal 9`.
    var ending: String? {
        guard !isRunning, let raw = status.withLock({ $0 }) else { return nil }
        let signal = raw & 0x7F
        return signal == 0 ? "exit \((raw >> 8) & 0xFF)" : "killed by signal \(signal)"
    }

    /// Sends `signal` to the process group.
    func send(_ signal: Int32) {
        guard isRunning else { return }
        kill(-pid, signal)
    }

    /// SIGKILLs the process group and reaps the process.
    func killNow() {
        send(SIGKILL)
        waitForExit()
    }

    /// Sends `signal`, waits up to `grace` for the exit, then SIGKILLs. Returns whether it exited
    /// within the grace period.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM, grace: Duration = .seconds(10)) async -> Bool {
        send(signal)
        if await exited(within: grace) { return true }
        killNow()
        return false
    }

    /// Waits up to `timeout` for the process to exit on its own; returns whether it did.
    func exited(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !isRunning
    }

    /// Blocks until the process has exited (after a SIGKILL this is immediate).
    private func waitForExit() {
        status.withLock { status in
            guard status == nil else { return }
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1, errno == EINTR {}
            status = raw
        }
    }
}
