#if canImport(Glibc)
import Glibc
#endif

/// Where device events come from.
public enum MonitorSource: String, Sendable, Hashable {
    /// udevd's processed events: they carry its `ID_*` properties and arrive after its rules ran
    /// (device node permissions and `/dev/serial` links are in place).
    case udev
    /// The kernel's raw uevents: available everywhere (containers, minimal images), without `ID_*`
    /// properties; the watcher derives those from sysfs (``DerivedProperties``).
    case kernel

    /// `.udev` when systemd-udevd runs (its control socket `/run/udev/control` exists), else
    /// `.kernel`. With udevd running, the kernel source would race its rules.
    public static func detect(controlSocket: String = "/run/udev/control") -> MonitorSource {
        access(controlSocket, F_OK) == 0 ? .udev : .kernel
    }
}
