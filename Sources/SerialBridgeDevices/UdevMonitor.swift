import CUdev

#if canImport(Glibc)
import Glibc
#endif

/// A libudev monitor on the netlink socket, filtered to the `tty` subsystem.
///
/// Not `Sendable`, like ``Udev``: use it where it was made. Its socket is non-blocking: wait for
/// ``fileDescriptor`` to be readable, then call ``receive()`` until it returns nil.
public final class UdevMonitor {
    /// The source it listens to.
    public let source: MonitorSource
    /// The `struct udev_monitor *` this instance owns; it holds a reference to its context.
    private let monitor: OpaquePointer

    /// Creates the monitor and starts receiving. Events from before this call are not delivered.
    /// - Throws: ``UdevError`` when the netlink socket cannot be created or bound.
    public init(udev: Udev, source: MonitorSource) throws(UdevError) {
        guard let monitor = udev_monitor_new_from_netlink(udev.context, source.rawValue) else {
            throw UdevError(operation: "creating the \(source) monitor", errno: errno)
        }
        self.monitor = monitor
        self.source = source
        udev_monitor_filter_add_match_subsystem_devtype(monitor, "tty", nil)
        // A larger buffer rides out bursts (a hub with many adapters); failure only costs that.
        _ = udev_monitor_set_receive_buffer_size(monitor, 4 << 20)
        let status = udev_monitor_enable_receiving(monitor)
        guard status >= 0 else {
            udev_monitor_unref(monitor)
            throw UdevError(operation: "binding the \(source) monitor", errno: -status)
        }
    }

    deinit { udev_monitor_unref(monitor) }

    /// The socket to wait on; closed when the monitor is released.
    public var fileDescriptor: Int32 { udev_monitor_get_fd(monitor) }

    /// The next pending event for a serial port, or nil when none is pending. Events for other
    /// tty devices (virtual consoles, ptys) are read and dropped.
    public func receive(links: () -> SerialLinks = { SerialLinks.read() }) -> UdevMonitorEvent? {
        while let device = udev_monitor_receive_device(monitor) {
            defer { udev_device_unref(device) }
            guard let action = Udev.string(udev_device_get_action(device)) else { continue }
            guard let info = Udev.serialDevice(device, links: links()) else { continue }
            return UdevMonitorEvent(action: action, device: info)
        }
        return nil
    }
}

/// One monitor event: the kernel/udev action (`add`, `remove`, `change`, `bind`, …) and the device.
public struct UdevMonitorEvent: Sendable, Hashable {
    /// The action, as the uevent names it.
    public var action: String
    /// The device, with the uevent's properties in ``SerialDeviceInfo/rawProperties``.
    public var device: SerialDeviceInfo

    /// Creates an event.
    public init(action: String, device: SerialDeviceInfo) {
        self.action = action
        self.device = device
    }
}
