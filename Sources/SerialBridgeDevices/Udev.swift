import CUdev

#if canImport(Glibc)
import Glibc
#endif

/// The one owner of libudev handles: a libudev context, from which tty devices are enumerated and
/// monitors created.
///
/// Not `Sendable`: libudev handles are not thread-safe. Create it, and everything made from it, on
/// the thread or queue that uses it (``DeviceWatcher`` confines its own to one serial queue).
public final class Udev {
    /// The `struct udev *` this instance owns (one reference, dropped in `deinit`).
    let context: OpaquePointer

    /// Opens a libudev context.
    /// - Throws: ``UdevError`` when libudev cannot be initialised (out of memory).
    public init() throws(UdevError) {
        guard let context = udev_new() else { throw UdevError(operation: "udev_new", errno: errno) }
        self.context = context
    }

    deinit { udev_unref(context) }

    /// Every serial port present now (see ``SerialPortFilter``), sorted by node, with links from
    /// `/dev/serial` read once.
    /// - Throws: ``UdevError`` when the enumeration fails.
    public func serialDevices() throws(UdevError) -> [SerialDeviceInfo] {
        guard let enumerate = udev_enumerate_new(context) else {
            throw UdevError(operation: "udev_enumerate_new", errno: errno)
        }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_subsystem(enumerate, "tty")
        let status = udev_enumerate_scan_devices(enumerate)
        guard status >= 0 else { throw UdevError(operation: "scanning tty devices", errno: -status) }
        let links = SerialLinks.read()
        var devices: [SerialDeviceInfo] = []
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            defer { entry = udev_list_entry_get_next(current) }
            guard let syspath = udev_list_entry_get_name(current),
                  let device = udev_device_new_from_syspath(context, syspath)
            else { continue }
            defer { udev_device_unref(device) }
            if let info = Self.serialDevice(device, links: links) { devices.append(info) }
        }
        return devices.sorted { $0.devnode < $1.devnode }
    }

    /// The device if it is a serial port, else nil. `device` stays owned by the caller.
    static func serialDevice(_ device: OpaquePointer, links: SerialLinks) -> SerialDeviceInfo? {
        let devpath = string(udev_device_get_devpath(device)) ?? ""
        // A removed device's sysfs is gone: its `type` reads as nil, which keeps it.
        let portType = string(udev_device_get_sysattr_value(device, "type"))
        guard SerialPortFilter.isSerialPort(subsystem: string(udev_device_get_subsystem(device)), devpath: devpath, portType: portType)
        else { return nil }
        let facts = facts(of: device)
        guard let devnode = facts.devnode else { return nil }
        return SerialDeviceInfo(facts: facts, byID: links.byID(devnode), byPath: links.byPath(devnode))
    }

    /// Reads the device's properties, ancestors and USB parent sysattrs into plain values.
    static func facts(of device: OpaquePointer) -> DeviceFacts {
        var properties: [String: String] = [:]
        var entry = udev_device_get_properties_list_entry(device)
        while let current = entry {
            if let name = string(udev_list_entry_get_name(current)) {
                properties[name] = string(udev_list_entry_get_value(current)) ?? ""
            }
            entry = udev_list_entry_get_next(current)
        }
        // Parents are owned by their child: no unref.
        var ancestors: [DeviceAncestor] = []
        var parent = udev_device_get_parent(device)
        while let current = parent {
            ancestors.append(DeviceAncestor(
                sysname: string(udev_device_get_sysname(current)) ?? "",
                devpath: string(udev_device_get_devpath(current)) ?? "",
                subsystem: string(udev_device_get_subsystem(current)),
                devtype: string(udev_device_get_devtype(current)),
                driver: string(udev_device_get_driver(current))
            ))
            parent = udev_device_get_parent(current)
        }
        var usb: USBDeviceAttributes?
        if let usbDevice = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_device") {
            func attribute(_ name: String) -> String? {
                string(udev_device_get_sysattr_value(usbDevice, name)).map { String($0.trimmingWhitespace) }
            }
            usb = USBDeviceAttributes(
                vendorID: attribute("idVendor"),
                productID: attribute("idProduct"),
                serial: attribute("serial"),
                manufacturer: attribute("manufacturer"),
                product: attribute("product")
            )
        }
        return DeviceFacts(
            sysname: string(udev_device_get_sysname(device)) ?? "",
            devpath: string(udev_device_get_devpath(device)) ?? "",
            devnode: string(udev_device_get_devnode(device)),
            subsystem: string(udev_device_get_subsystem(device)) ?? "",
            properties: properties,
            ancestors: ancestors,
            usb: usb
        )
    }

    static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
