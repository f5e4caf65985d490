/// Fills in the properties udevd would have added, from a device's USB parent and ancestors, so
/// that profiles match the same with the "udev" and the "kernel" monitor source.
///
/// Keys already present (set by udevd) are never overwritten. Derived keys: `ID_BUS`,
/// `ID_VENDOR_ID`, `ID_MODEL_ID`, `ID_VENDOR`, `ID_MODEL`, `ID_SERIAL`, `ID_SERIAL_SHORT` (USB
/// devices only), `ID_PATH` (see ``PathID``) and `DRIVER` (the driver of the nearest ancestor
/// that has one, skipping the `serial-base` port layer, e.g. `ftdi_sio`, `cdc_acm`, `serial`).
public enum DerivedProperties {
    /// `facts.properties` plus every derivable key they lack.
    public static func derive(_ facts: DeviceFacts) -> [String: String] {
        var properties = facts.properties
        func fill(_ key: String, _ value: String?) {
            guard let value, !value.isEmpty, properties[key] == nil else { return }
            properties[key] = value
        }
        if let usb = facts.usb {
            let vendorID = usb.vendorID.map(UdevStrings.sanitize)
            let modelID = usb.productID.map(UdevStrings.sanitize)
            // usb_id falls back to the numeric ids when the descriptor strings are missing.
            let vendor = nonEmpty(usb.manufacturer.map(UdevStrings.sanitize)) ?? vendorID
            let model = nonEmpty(usb.product.map(UdevStrings.sanitize)) ?? modelID
            let serial = nonEmpty(usb.serial.map(UdevStrings.sanitize))
            fill("ID_BUS", "usb")
            fill("ID_VENDOR_ID", vendorID)
            fill("ID_MODEL_ID", modelID)
            fill("ID_VENDOR", vendor)
            fill("ID_MODEL", model)
            fill("ID_SERIAL_SHORT", serial)
            if let vendor, let model {
                fill("ID_SERIAL", [vendor, model, serial].compactMap { $0 }.joined(separator: "_"))
            }
        }
        fill("ID_PATH", PathID.idPath(ancestors: facts.ancestors))
        fill("DRIVER", driver(facts.ancestors))
        return properties
    }

    /// The driver of the nearest ancestor that has one, skipping the generic `serial-base` port.
    public static func driver(_ ancestors: [DeviceAncestor]) -> String? {
        ancestors.first { $0.subsystem != "serial-base" && nonEmpty($0.driver) != nil }?.driver
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}
