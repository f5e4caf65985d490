/// A device id that survives replugging into the same port and renumbering (`ttyUSB0` →
/// `ttyUSB1`).
///
/// - With a USB serial number: `usb-<ID_VENDOR_ID>-<ID_MODEL_ID>-<ID_SERIAL_SHORT>`, which follows
///   the adapter to any port.
/// - Otherwise the physical path: `path-<ID_PATH>` (e.g. `path-pci-0000:00:14.0-usb-0:2:1.0`),
///   which follows the port; or, when there is no `ID_PATH` (an onboard UART), `path-` and the
///   sysfs path of the device's hardware parent, with `/` as `-`.
///
/// The node name (`ttyUSB0`) never enters the id.
public enum StableID {
    /// The stable id of a device with these (derived) `properties`, given its physical path.
    public static func make(properties: [String: String], physicalPath: String) -> String {
        if let serial = properties["ID_SERIAL_SHORT"], !serial.isEmpty {
            let vendor = properties["ID_VENDOR_ID"] ?? "0000"
            let model = properties["ID_MODEL_ID"] ?? "0000"
            return "usb-\(vendor)-\(model)-\(serial)"
        }
        return "path-" + physicalPath
    }

    /// `ID_PATH` when there is one, else the hardware parent's sysfs path: the devpath of the
    /// nearest ancestor that is not a tty or a USB-serial port (both are named after the node),
    /// without `/devices/` and with `/` as `-`. Falls back to the device's own devpath.
    public static func physicalPath(properties: [String: String], facts: DeviceFacts) -> String {
        if let path = properties["ID_PATH"], !path.isEmpty { return path }
        let hardware = facts.ancestors.first { $0.subsystem != "tty" && $0.subsystem != "usb-serial" }?.devpath
        var path = Substring(hardware ?? facts.devpath)
        if path.hasPrefix("/devices/") { path = path.dropFirst("/devices/".count) }
        return String(path.map { $0 == "/" ? "-" : $0 })
    }
}
