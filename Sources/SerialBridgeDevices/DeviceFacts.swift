/// What libudev reported about one tty device, as plain values: the input of every derivation in
/// this module, so that derived properties and stable ids can be computed (and tested) without
/// hardware, libudev or udevd.
public struct DeviceFacts: Sendable, Hashable {
    /// The device's kernel name, e.g. `ttyUSB0`.
    public var sysname: String
    /// The device's path below `/sys`, e.g. `/devices/pci0000:00/…/ttyUSB0/tty/ttyUSB0`.
    public var devpath: String
    /// The device node, e.g. `/dev/ttyUSB0`; nil when the device has none.
    public var devnode: String?
    /// The device's subsystem (`tty` for every device the watcher reports).
    public var subsystem: String
    /// The properties libudev reported: the uevent's environment, plus udevd's `ID_*` keys when
    /// udevd runs.
    public var properties: [String: String]
    /// The device's ancestors, nearest first (not the device itself).
    public var ancestors: [DeviceAncestor]
    /// The sysattrs of the nearest USB device (`usb`/`usb_device`) above the tty, if any.
    public var usb: USBDeviceAttributes?

    /// Creates the facts of one device.
    public init(
        sysname: String,
        devpath: String,
        devnode: String? = nil,
        subsystem: String = "tty",
        properties: [String: String] = [:],
        ancestors: [DeviceAncestor] = [],
        usb: USBDeviceAttributes? = nil
    ) {
        self.sysname = sysname
        self.devpath = devpath
        self.devnode = devnode
        self.subsystem = subsystem
        self.properties = properties
        self.ancestors = ancestors
        self.usb = usb
    }
}

/// One device above a tty in the sysfs tree.
public struct DeviceAncestor: Sendable, Hashable {
    /// Kernel name, e.g. `1-2:1.0` or `0000:00:14.0`.
    public var sysname: String
    /// Path below `/sys`.
    public var devpath: String
    /// Subsystem (`usb`, `pci`, `platform`, …); nil for plain directories such as `pci0000:00`.
    public var subsystem: String?
    /// Device type within the subsystem, e.g. `usb_interface` or `usb_device`.
    public var devtype: String?
    /// The bound driver, e.g. `ftdi_sio`.
    public var driver: String?

    /// Creates an ancestor.
    public init(sysname: String, devpath: String, subsystem: String?, devtype: String? = nil, driver: String? = nil) {
        self.sysname = sysname
        self.devpath = devpath
        self.subsystem = subsystem
        self.devtype = devtype
        self.driver = driver
    }
}

/// The sysattrs of a USB device that udevd's `usb_id` builtin turns into `ID_*` properties.
public struct USBDeviceAttributes: Sendable, Hashable {
    /// `idVendor`, four hex digits, e.g. `0403`.
    public var vendorID: String?
    /// `idProduct`, four hex digits, e.g. `6001`.
    public var productID: String?
    /// `serial`, the device's serial number string; nil or empty when it has none.
    public var serial: String?
    /// `manufacturer` string, e.g. `FTDI`.
    public var manufacturer: String?
    /// `product` string, e.g. `FT232R USB UART`.
    public var product: String?

    /// Creates the attributes.
    public init(vendorID: String? = nil, productID: String? = nil, serial: String? = nil, manufacturer: String? = nil, product: String? = nil) {
        self.vendorID = vendorID
        self.productID = productID
        self.serial = serial
        self.manufacturer = manufacturer
        self.product = product
    }
}
