/// The `ID_PATH` udevd's `path_id` builtin would give a device, computed from its ancestors so that
/// kernel-source events (which carry no `ID_*` keys) get the same value.
///
/// Follows systemd 252's `path_id` for the parents that serial devices have: `pci`, `usb`,
/// `platform`, `acpi` and `serio`. Like `path_id`, it returns nil when no ancestor is of a known
/// kind (an onboard 8250 UART under `pnp0` has no `ID_PATH`), because an unknown parent does not
/// promise a unique, predictable name.
public enum PathID {
    /// The `ID_PATH` for a device with these `ancestors` (nearest first), or nil.
    public static func idPath(ancestors: [DeviceAncestor]) -> String? {
        var parts: [String] = []
        var supportedParent = false
        var index = 0
        while index < ancestors.count {
            let ancestor = ancestors[index]
            switch ancestor.subsystem {
            case "usb":
                // path_id names the port from the first USB node ("1-2:1.0" → "usb-0:2:1.0") and
                // skips the rest of the USB chain up to the host controller.
                if ancestor.devtype == "usb_interface" || ancestor.devtype == "usb_device",
                   let dash = ancestor.sysname.firstIndex(of: "-")
                {
                    parts.append("usb-0:" + ancestor.sysname[ancestor.sysname.index(after: dash)...])
                    index = skipRun(of: "usb", in: ancestors, from: index)
                }
                supportedParent = true
            case "pci":
                parts.append("pci-" + ancestor.sysname)
                index = skipRun(of: "pci", in: ancestors, from: index)
                supportedParent = true
            case "platform":
                parts.append("platform-" + ancestor.sysname)
                index = skipRun(of: "platform", in: ancestors, from: index)
                supportedParent = true
            case "acpi":
                parts.append("acpi-" + ancestor.sysname)
                index = skipRun(of: "acpi", in: ancestors, from: index)
                supportedParent = true
            case "serio":
                let number = ancestor.sysname.reversed().prefix(while: \.isNumber).reversed()
                parts.append("serio-" + String(number))
                index = skipRun(of: "serio", in: ancestors, from: index)
                supportedParent = true
            default:
                break
            }
            index += 1
        }
        guard supportedParent, !parts.isEmpty else { return nil }
        // Parts were collected walking up; ID_PATH reads from the root down.
        return parts.reversed().joined(separator: "-")
    }

    /// The index of the last ancestor in the run of `subsystem` that starts at `start`.
    private static func skipRun(of subsystem: String, in ancestors: [DeviceAncestor], from start: Int) -> Int {
        var index = start
        while index + 1 < ancestors.count, ancestors[index + 1].subsystem == subsystem { index += 1 }
        return index
    }
}
