import Foundation
import Testing

/// The units in systemd/, read as systemd reads them. The sandbox must score well *and* leave each
/// service what its job needs, so that a good score cannot come from locking the gateway out of its
/// own serial ports, udev or the server.
@Suite("systemd units: sandboxed, yet able to do their job")
struct SystemdUnitTests {
    static func unit(_ name: String) throws -> SystemdUnitFile {
        try SystemdUnitFile(path: Repository.root.appendingPathComponent("systemd/\(name)").path)
    }

    static let serviceUnits = ["serialbridge.service", "serialbridge-server.service"]
    static let allUnits = serviceUnits + ["serialbridge-server-credentials.service"]

    /// System calls the gateway and the server made under `strace -f` (a gateway reading a pty and a
    /// Modbus bus, sending to a server, reloaded with SIGHUP, stopped with SIGTERM), plus `sendmsg`
    /// for sd_notify: a filter that breaks serial ports, udev, the uplink, the spool or the database
    /// fails here. Two calls seen are filtered on purpose and fail with EPERM, which both services
    /// were checked to shrug off (strace `inject=...:error=EPERM`): `setpriority` (libdispatch sets
    /// its threads' nice values by QoS; unprivileged it fails for raised priorities anyway) and
    /// `fchown` (SQLite, only when running as root).
    static let serviceCalls = [
        "accept4", "access", "arch_prctl", "bind", "brk", "clock_nanosleep", "clone3", "close", "connect",
        "dup", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "eventfd2", "execve", "faccessat2",
        "fcntl", "fdatasync", "flock", "fstatfs", "fsync", "ftruncate", "futex", "getcwd", "getdents64",
        "geteuid", "getpeername", "getpid", "getrandom", "getsockname", "getsockopt", "gettid", "ioctl",
        "listen", "lseek", "madvise", "mkdir", "mmap", "mprotect", "munmap", "newfstatat", "openat", "ppoll",
        "prctl", "pread64", "prlimit64", "pwrite64", "read", "readlink", "readlinkat", "recvfrom", "recvmsg",
        "rename", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend",
        "sched_getaffinity", "sendto", "set_robust_list", "set_tid_address", "setsockopt", "shutdown",
        "sigaltstack", "signalfd4", "socket", "statfs", "tgkill", "timerfd_create", "timerfd_settime",
        "unlink", "write", "writev", "sendmsg", "unlinkat", "renameat", "pipe2",
    ]

    @Test(arguments: serviceUnits)
    func isANotifyServiceWithWatchdogReloadAndStopTimeout(_ name: String) throws {
        let unit = try Self.unit(name)
        #expect(unit.value("Type") == "notify")
        #expect(unit.value("NotifyAccess") == "main")
        #expect(unit.value("WatchdogSec") == "30")
        #expect(unit.value("ExecReload") == "/bin/kill -HUP $MAINPID")
        #expect(unit.value("Restart") == "on-failure")
        #expect(unit.words("RestartPreventExitStatus").contains("2"), "a config error must not restart in a loop")
        #expect(unit.value("TimeoutStopSec").flatMap(Int.init).map { (10...90).contains($0) } == true)
        #expect(unit.value("StandardOutput") == "journal")
        #expect(unit.value("StandardError") == "journal")
        let directory = name == "serialbridge.service" ? "serialbridge" : "serialbridge-server"
        #expect(unit.value("StateDirectory") == directory)
        #expect(unit.value("ConfigurationDirectory") == directory)
        #expect(unit.isOn("DynamicUser"))
        #expect(unit.value("ExecStart")?.hasPrefix("/usr/local/bin/\(directory) ") == true, "make install rewrites /usr/local")
        #expect(unit.value("WantedBy", in: "Install") == "multi-user.target")
    }

    @Test func gatewayKeepsItsSerialPortsUdevAndTheNetwork() throws {
        let unit = try Self.unit("serialbridge.service")
        // Serial ports: a closed device policy with every tty class the gateway serves, read-write.
        #expect(["closed", "strict"].contains(unit.value("DevicePolicy") ?? "auto"))
        let allowed = Dictionary(unit.deviceAllow.map { ($0.device, $0.access) }) { first, _ in first }
        for device in ["char-ttyS", "char-ttyUSB", "char-ttyACM", "char-ttyAMA"] {
            #expect(allowed[device]?.contains("r") == true && allowed[device]?.contains("w") == true, "\(device) must be allowed rw")
        }
        // PrivateDevices= would replace /dev with one that has no serial ports.
        #expect(!unit.isOn("PrivateDevices"))
        #expect(unit.words("SupplementaryGroups").contains("dialout"))
        // The uplink (AF_INET/AF_INET6), udev and network changes (AF_NETLINK), sd_notify (AF_UNIX).
        for family in ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"] {
            #expect(unit.allowsAddressFamily(family), "\(family) must stay allowed")
        }
        #expect(!unit.isOn("PrivateNetwork"))
        #expect(!unit.words("IPAddressDeny").contains("any") || unit.words("IPAddressAllow").contains("any"))
        // The spool is written to the state directory, the only writable place.
        #expect(unit.value("ProtectSystem") == "strict")
        #expect(unit.execStartOption("--config") == "%E/serialbridge/gateway.json")
    }

    @Test func gatewayTokenReachesTheDynamicUserAsACredential() throws {
        let unit = try Self.unit("serialbridge.service")
        #expect(unit.values("LoadCredential") == ["token:/etc/serialbridge/token"])
        #expect(unit.values("Environment").contains("SERIALBRIDGE_TOKEN_FILE=%d/token"))
    }

    @Test func serverKeepsItsSocketsAndAPortWithoutCapabilities() throws {
        let unit = try Self.unit("serialbridge-server.service")
        for family in ["AF_INET", "AF_INET6", "AF_UNIX"] {
            #expect(unit.allowsAddressFamily(family), "\(family) must stay allowed")
        }
        #expect(!unit.isOn("PrivateNetwork"))
        #expect(!unit.words("IPAddressDeny").contains("any") || unit.words("IPAddressAllow").contains("any"))
        #expect(unit.execStartOption("--host") == "0.0.0.0")
        // Binding below 1024 would need CAP_NET_BIND_SERVICE, which the unit drops.
        let port = unit.execStartOption("--port").flatMap(Int.init) ?? 0
        #expect(port >= 1024 || unit.words("AmbientCapabilities").contains("CAP_NET_BIND_SERVICE"))
        #expect(unit.execStartOption("--db")?.hasPrefix("%S/serialbridge-server/") == true, "the database belongs in the state directory")
    }

    /// The root-only token and users files become credentials, and the path unit restarts the server
    /// when exactly those files change, so `tokens revoke` still takes effect without a manual step.
    @Test func serverCredentialsAreTheFilesThePathUnitWatches() throws {
        let server = try Self.unit("serialbridge-server.service")
        let credentials = Dictionary(uniqueKeysWithValues: server.values("LoadCredential").map { entry in
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        })
        #expect(credentials == ["tokens": "/etc/serialbridge-server/tokens", "users": "/etc/serialbridge-server/users"])
        #expect(server.execStartOption("--tokens") == "%d/tokens")
        #expect(server.execStartOption("--users") == "%d/users")
        #expect(server.words("Wants", in: "Unit").contains("serialbridge-server-credentials.path"))

        let path = try Self.unit("serialbridge-server-credentials.path")
        #expect(Set(path.values("PathChanged", in: "Path")) == Set(credentials.values))
        #expect(path.value("Unit", in: "Path") == "serialbridge-server-credentials.service")
        let restart = try Self.unit("serialbridge-server-credentials.service")
        #expect(restart.value("ExecStart") == "/bin/systemctl --no-block try-restart serialbridge-server.service")
    }

    @Test func systemCallFiltersLetThroughWhatTheServicesCall() async throws {
        guard let tools = HostTool.required(["systemd-analyze"], for: "the system call filter check") else { return }
        let listing = try await HostTool.run([tools["systemd-analyze"]!, "syscall-filter"])
        #expect(listing.status == 0, "\(listing.text)")
        let filter = SyscallFilter(systemdAnalyzeOutput: listing.stdout)
        #expect(filter.expand("@system-service").contains("ioctl"), "the listing was not understood")
        for name in Self.serviceUnits {
            let lines = try Self.unit(name).values("SystemCallFilter")
            #expect(!lines.isEmpty, "\(name) has no system call filter")
            let blocked = Self.serviceCalls.filter { !filter.allows($0, lines: lines) }
            #expect(blocked.isEmpty, "\(name) blocks \(blocked)")
        }
        // The filter does take something away.
        let gateway = try Self.unit("serialbridge.service").values("SystemCallFilter")
        for call in ["mount", "reboot", "init_module", "setrlimit", "ptrace"] {
            #expect(!filter.allows(call, lines: gateway), "\(call) should be filtered")
        }
    }

    @Test(arguments: allUnits)
    func securityExposureIsAtMostTwo(_ name: String) async throws {
        guard let tools = HostTool.required(["systemd-analyze"], for: "systemd-analyze security") else { return }
        let path = Repository.root.appendingPathComponent("systemd/\(name)").path
        let run = try await HostTool.run([tools["systemd-analyze"]!, "security", "--offline=yes", "--no-pager", path])
        #expect(run.status == 0, "\(run.text)")
        let score = Self.exposure(in: run.stdout)
        #expect(score != nil, "no \"Overall exposure level\" line in: \(run.text)")
        if let score {
            print("systemd-analyze security \(name): \(score)")
            #expect(score <= 2.0, "\(name) scores \(score):\n\(run.stdout)")
        }
    }

    /// The number in `→ Overall exposure level for NAME: 1.5 OK 🙂`.
    static func exposure(in text: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains("Overall exposure level for") }),
              let colon = line.lastIndex(of: ":")
        else { return nil }
        return line[line.index(after: colon)...].split(separator: " ").first.flatMap { Double($0) }
    }
}
