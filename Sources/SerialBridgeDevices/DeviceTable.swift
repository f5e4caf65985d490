/// The devices a watcher has reported, turning raw monitor actions into ``DeviceEvent``s.
///
/// A pure value: it decides, the watcher only feeds it. It drops a second `add` for a device that
/// was already reported (a device plugged in between the monitor's start and the enumeration is
/// seen by both), drops a `remove` for a device never reported, and answers a `remove` with the
/// device as last seen (its sysfs, and with it the USB parent, is already gone).
public struct DeviceTable: Sendable {
    /// Reported devices by devpath.
    public private(set) var devices: [String: SerialDeviceInfo] = [:]

    /// An empty table.
    public init() {}

    /// Records a device found by enumeration; returns its `.added` event, or nil if already known.
    public mutating func enumerated(_ device: SerialDeviceInfo) -> DeviceEvent? {
        apply(action: "add", device: device)
    }

    /// The event for a monitor `action` (`add`, `remove`, `change`, `bind`, `unbind`, `move`, …)
    /// on `device`, or nil when there is nothing to report.
    public mutating func apply(action: String, device: SerialDeviceInfo) -> DeviceEvent? {
        switch action {
        case "add":
            guard devices[device.devpath] == nil else { return nil }
            devices[device.devpath] = device
            return .added(device)
        case "remove":
            guard var known = devices.removeValue(forKey: device.devpath) else { return nil }
            known.rawProperties = device.rawProperties
            return .removed(known)
        default:
            // change, bind, unbind, move, online, offline: the device is (still) there.
            devices[device.devpath] = device
            return .changed(device)
        }
    }
}
