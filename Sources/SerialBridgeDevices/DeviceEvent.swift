/// A change in the set of serial devices, as ``DeviceWatcher`` delivers it.
public enum DeviceEvent: Sendable, Hashable {
    /// A device is present: found at start, or plugged in.
    case added(SerialDeviceInfo)
    /// A device went away. Carries the device as it was last seen, so its stable id and derived
    /// properties are intact although its sysfs entry is gone.
    case removed(SerialDeviceInfo)
    /// A device changed (or a `change` uevent was raised for it). Its ``SerialDeviceInfo/rawProperties``
    /// are the uevent's, including `SYNTH_UUID` and `SYNTH_ARG_*` for synthetic uevents.
    case changed(SerialDeviceInfo)

    /// The device the event is about.
    public var device: SerialDeviceInfo {
        switch self {
        case .added(let device), .removed(let device), .changed(let device): device
        }
    }

    /// `added`, `removed` or `changed`.
    public var kind: String {
        switch self {
        case .added: "added"
        case .removed: "removed"
        case .changed: "changed"
        }
    }
}
