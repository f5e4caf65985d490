import SerialBridgeDevices
import SerialBridgeParsing
import SerialBridgeProfiles
import Testing

/// Sysfs trees of real device kinds, as ``DeviceFacts``: what libudev reports with the kernel
/// monitor source (no `ID_*` keys) and, for comparison, what udevd adds.
enum UdevFixtures {
    static func usbAncestors(port: String, tty: String, driver: String, hubs: [String] = []) -> [DeviceAncestor] {
        let controller = "/devices/pci0000:00/0000:00:14.0"
        var chain = [controller + "/usb1"]
        for hub in hubs { chain.append(chain.last! + "/" + hub) }
        let device = chain.last! + "/" + port
        let interface = device + "/" + port + ":1.0"
        var ancestors: [DeviceAncestor] = []
        if tty.hasPrefix("ttyUSB") {
            ancestors.append(DeviceAncestor(sysname: tty, devpath: interface + "/" + tty, subsystem: "usb-serial", driver: driver))
        }
        ancestors.append(DeviceAncestor(sysname: port + ":1.0", devpath: interface, subsystem: "usb", devtype: "usb_interface", driver: driver))
        ancestors.append(DeviceAncestor(sysname: port, devpath: device, subsystem: "usb", devtype: "usb_device", driver: "usb"))
        for path in chain.reversed() {
            let name = String(path.split(separator: "/").last!)
            ancestors.append(DeviceAncestor(sysname: name, devpath: path, subsystem: "usb", devtype: "usb_device", driver: "usb"))
        }
        ancestors.append(DeviceAncestor(sysname: "0000:00:14.0", devpath: controller, subsystem: "pci", driver: "xhci_hcd"))
        ancestors.append(DeviceAncestor(sysname: "pci0000:00", devpath: "/devices/pci0000:00", subsystem: nil))
        return ancestors
    }

    static func kernelProperties(_ tty: String, devpath: String) -> [String: String] {
        ["ACTION": "add", "DEVPATH": devpath, "SUBSYSTEM": "tty", "DEVNAME": "/dev/" + tty, "MAJOR": "188", "MINOR": "0"]
    }

    static func usbFacts(tty: String, port: String, driver: String, usb: USBDeviceAttributes, hubs: [String] = []) -> DeviceFacts {
        let ancestors = usbAncestors(port: port, tty: tty, driver: driver, hubs: hubs)
        let devpath = ancestors[0].devpath + "/tty/" + tty
        return DeviceFacts(
            sysname: tty, devpath: devpath, devnode: "/dev/" + tty,
            properties: kernelProperties(tty, devpath: devpath), ancestors: ancestors, usb: usb
        )
    }

    /// An FTDI FT232R with a serial number on root port 2.
    static let ftdi = usbFacts(
        tty: "ttyUSB0", port: "1-2", driver: "ftdi_sio",
        usb: USBDeviceAttributes(vendorID: "0403", productID: "6001", serial: "A50285BI", manufacturer: "FTDI", product: "FT232R USB UART")
    )
    /// A CH340 without a serial number or manufacturer string, behind a hub (port 1.4).
    static func ch340(_ tty: String) -> DeviceFacts {
        usbFacts(
            tty: tty, port: "1-1.4", driver: "ch341",
            usb: USBDeviceAttributes(vendorID: "1a86", productID: "7523", product: "USB Serial"), hubs: ["1-1"]
        )
    }
    /// The PC's onboard 8250 UART (as on this machine).
    static let onboard = DeviceFacts(
        sysname: "ttyS0", devpath: "/devices/pnp0/00:00/00:00:0/00:00:0.0/tty/ttyS0", devnode: "/dev/ttyS0",
        properties: ["DEVNAME": "/dev/ttyS0", "MAJOR": "4", "MINOR": "64"],
        ancestors: [
            DeviceAncestor(sysname: "00:00:0.0", devpath: "/devices/pnp0/00:00/00:00:0/00:00:0.0", subsystem: "serial-base", devtype: "port", driver: "port"),
            DeviceAncestor(sysname: "00:00:0", devpath: "/devices/pnp0/00:00/00:00:0", subsystem: "serial-base", devtype: "ctrl", driver: "ctrl"),
            DeviceAncestor(sysname: "00:00", devpath: "/devices/pnp0/00:00", subsystem: "pnp", driver: "serial"),
            DeviceAncestor(sysname: "pnp0", devpath: "/devices/pnp0", subsystem: nil),
        ]
    )

    /// `facts` as udevd would report them: its `ID_*` keys in the properties, and (to prove they
    /// are used, not re-derived) no ancestors or USB sysattrs.
    static func asUdevd(_ facts: DeviceFacts, adding udevd: [String: String]) -> DeviceFacts {
        var copy = facts
        copy.properties.merge(udevd) { _, new in new }
        copy.ancestors = []
        copy.usb = nil
        return copy
    }
}

@Suite("udev: derived properties and stable ids", .serialized)
struct UdevDerivationTests {
    struct Case: Sendable {
        let what: String
        let facts: DeviceFacts
        let expected: [String: String?]
        let stableID: String
    }

    static let cases: [Case] = [
        Case(
            what: "USB adapter with a serial number",
            facts: UdevFixtures.ftdi,
            expected: [
                "ID_BUS": "usb", "ID_VENDOR_ID": "0403", "ID_MODEL_ID": "6001", "ID_SERIAL_SHORT": "A50285BI",
                "ID_VENDOR": "FTDI", "ID_MODEL": "FT232R_USB_UART", "ID_SERIAL": "FTDI_FT232R_USB_UART_A50285BI",
                "ID_PATH": "pci-0000:00:14.0-usb-0:2:1.0", "DRIVER": "ftdi_sio",
            ],
            stableID: "usb-0403-6001-A50285BI"
        ),
        Case(
            what: "USB adapter without a serial number: the port names it",
            facts: UdevFixtures.ch340("ttyUSB0"),
            expected: [
                "ID_VENDOR_ID": "1a86", "ID_MODEL_ID": "7523", "ID_SERIAL_SHORT": nil, "ID_VENDOR": "1a86",
                "ID_MODEL": "USB_Serial", "ID_SERIAL": "1a86_USB_Serial", "ID_PATH": "pci-0000:00:14.0-usb-0:1.4:1.0",
                "DRIVER": "ch341",
            ],
            stableID: "path-pci-0000:00:14.0-usb-0:1.4:1.0"
        ),
        Case(
            what: "the same adapter renumbered to ttyUSB1 keeps its id",
            facts: UdevFixtures.ch340("ttyUSB1"),
            expected: ["ID_PATH": "pci-0000:00:14.0-usb-0:1.4:1.0", "DEVNAME": "/dev/ttyUSB1"],
            stableID: "path-pci-0000:00:14.0-usb-0:1.4:1.0"
        ),
        Case(
            what: "onboard UART: no USB keys, no ID_PATH (as path_id), the hardware path names it",
            facts: UdevFixtures.onboard,
            expected: ["ID_VENDOR_ID": nil, "ID_SERIAL_SHORT": nil, "ID_PATH": nil, "DRIVER": "serial"],
            stableID: "path-pnp0-00:00-00:00:0-00:00:0.0"
        ),
    ]

    @Test(arguments: cases.indices)
    func derivesPropertiesAndStableID(index: Int) throws {
        let test = Self.cases[index]
        let info = try #require(SerialDeviceInfo(facts: test.facts))
        for (key, value) in test.expected.sorted(by: { $0.key < $1.key }) {
            #expect(info.properties[key] == value, "\(test.what): \(key)")
        }
        #expect(info.stableID == test.stableID, "\(test.what)")
        #expect(info.devnode == test.facts.devnode)
        #expect(info.candidate.paths.first == test.facts.devnode)
        #expect(info.candidate.properties == info.properties)
    }

    @Test func renumberingAndReplugInTheSamePortKeepTheID() throws {
        let first = try #require(SerialDeviceInfo(facts: UdevFixtures.ch340("ttyUSB0")))
        let second = try #require(SerialDeviceInfo(facts: UdevFixtures.ch340("ttyUSB1")))
        #expect(first.stableID == second.stableID)
        #expect(first.devnode != second.devnode)
        // The same adapter in another port: a different id (no serial number to follow).
        let elsewhere = try #require(SerialDeviceInfo(facts: UdevFixtures.usbFacts(
            tty: "ttyUSB0", port: "1-3", driver: "ch341", usb: USBDeviceAttributes(vendorID: "1a86", productID: "7523")
        )))
        #expect(elsewhere.stableID == "path-pci-0000:00:14.0-usb-0:3:1.0")
    }

    @Test func anAdapterWithASerialNumberKeepsItsIDInAnyPort() throws {
        var moved = UdevFixtures.usbFacts(
            tty: "ttyUSB3", port: "1-1.2", driver: "ftdi_sio", usb: UdevFixtures.ftdi.usb!, hubs: ["1-1"]
        )
        moved.properties["DEVNAME"] = "/dev/ttyUSB3"
        let info = try #require(SerialDeviceInfo(facts: moved))
        #expect(info.stableID == "usb-0403-6001-A50285BI")
        #expect(info.physicalPath == "pci-0000:00:14.0-usb-0:1.2:1.0")
    }

    /// udevd's keys for the fixtures, as `udevadm info` shows them on a machine running udevd.
    static let udevdKeys: [(DeviceFacts, [String: String])] = [
        (UdevFixtures.ftdi, [
            "ID_BUS": "usb", "ID_VENDOR_ID": "0403", "ID_MODEL_ID": "6001", "ID_SERIAL_SHORT": "A50285BI",
            "ID_VENDOR": "FTDI", "ID_MODEL": "FT232R_USB_UART", "ID_SERIAL": "FTDI_FT232R_USB_UART_A50285BI",
            "ID_PATH": "pci-0000:00:14.0-usb-0:2:1.0", "ID_PATH_TAG": "pci-0000_00_14_0-usb-0_2_1_0",
            "ID_USB_DRIVER": "ftdi_sio",
        ]),
        (UdevFixtures.ch340("ttyUSB1"), [
            "ID_BUS": "usb", "ID_VENDOR_ID": "1a86", "ID_MODEL_ID": "7523", "ID_VENDOR": "1a86",
            "ID_MODEL": "USB_Serial", "ID_SERIAL": "1a86_USB_Serial", "ID_PATH": "pci-0000:00:14.0-usb-0:1.4:1.0",
        ]),
        (UdevFixtures.onboard, [:]),
    ]

    @Test(arguments: udevdKeys.indices)
    func udevdPropertiesAndDerivedPropertiesAgree(index: Int) throws {
        let (kernel, udevd) = Self.udevdKeys[index]
        let derived = try #require(SerialDeviceInfo(facts: kernel))
        let fromUdevd = try #require(SerialDeviceInfo(facts: UdevFixtures.asUdevd(kernel, adding: udevd)))
        for key in ["ID_VENDOR_ID", "ID_MODEL_ID", "ID_SERIAL_SHORT", "ID_VENDOR", "ID_MODEL", "ID_SERIAL", "ID_PATH"] {
            #expect(derived.properties[key] == fromUdevd.properties[key], "\(kernel.sysname): \(key)")
        }
        if index < 2 { #expect(derived.stableID == fromUdevd.stableID) }
        // udevd's own keys are kept, never overwritten by derivation.
        var both = kernel
        both.properties.merge(["ID_VENDOR": "Custom_Name"]) { _, new in new }
        #expect(SerialDeviceInfo(facts: both)?.properties["ID_VENDOR"] == "Custom_Name")
    }

    @Test func derivedAndUdevdCandidatesMatchTheSameProfile() throws {
        let rule = MatchRule(properties: ["ID_VENDOR_ID": "0403", "ID_SERIAL_SHORT": "A502*", "ID_PATH": "pci-*-usb-0:2:1.0"])
        let profile = DeviceProfile(
            name: "ftdi-a502", match: rule,
            parsing: ParsingSpec(framing: LineFraming(), decoding: DelimitedDecoding(fields: [FieldSpec(name: "v")]))
        )
        let udevd = try #require(SerialDeviceInfo(facts: UdevFixtures.asUdevd(UdevFixtures.ftdi, adding: Self.udevdKeys[0].1)))
        let derived = try #require(SerialDeviceInfo(facts: UdevFixtures.ftdi))
        for info in [udevd, derived] {
            guard case .matched(let matched) = ProfileMatcher.match(info.candidate, profiles: [profile]) else {
                Issue.record("no match for \(info.properties)")
                continue
            }
            #expect(matched.name == "ftdi-a502")
        }
    }

    @Test func descriptorStringsAreCleanedAsUdevdDoes() throws {
        var facts = UdevFixtures.ftdi
        facts.usb = USBDeviceAttributes(vendorID: "0403", productID: "6015", serial: " DN0 5/X ", manufacturer: "  Acme  Corp. ", product: "Sensor (rev 2)")
        let info = try #require(SerialDeviceInfo(facts: facts))
        #expect(info.properties["ID_VENDOR"] == "Acme_Corp.")
        #expect(info.properties["ID_MODEL"] == "Sensor__rev_2_")
        #expect(info.properties["ID_SERIAL_SHORT"] == "DN0_5_X")
        #expect(info.stableID == "usb-0403-6015-DN0_5_X")
    }

    @Test(arguments: [
        ("/devices/pnp0/00:00/00:00:0/00:00:0.0/tty/ttyS0", "4", true),
        ("/devices/platform/serial8250/serial8250:0/serial8250:0.1/tty/ttyS1", "0", false),
        ("/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/ttyUSB0/tty/ttyUSB0", nil, true),
        ("/devices/virtual/tty/tty0", nil, false),
        ("/devices/virtual/tty/console", nil, false),
        ("/devices/virtual/tty/ptmx", nil, false),
    ] as [(String, String?, Bool)])
    func virtualConsolesAndPhantomPortsAreSkipped(devpath: String, type: String?, kept: Bool) {
        #expect(SerialPortFilter.isSerialPort(subsystem: "tty", devpath: devpath, portType: type) == kept)
    }

    @Test func serialLinksResolveRelativeTargets() {
        #expect(SerialLinks.resolve("../../ttyUSB0", relativeTo: "/dev/serial/by-id") == "/dev/ttyUSB0")
        #expect(SerialLinks.resolve("/dev/ttyACM0", relativeTo: "/dev/serial/by-path") == "/dev/ttyACM0")
        let links = SerialLinks(targets: [
            "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0": "/dev/ttyUSB0",
            "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0": "/dev/ttyUSB0",
            "/dev/serial/by-id/usb-other": "/dev/ttyUSB1",
        ])
        let info = SerialDeviceInfo(facts: UdevFixtures.ftdi, byID: links.byID("/dev/ttyUSB0"), byPath: links.byPath("/dev/ttyUSB0"))
        #expect(info?.paths == [
            "/dev/ttyUSB0", "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0",
            "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0",
        ])
    }

    @Test func theTableReportsEachDeviceOnceAndRemovalsAsLastSeen() throws {
        var table = DeviceTable()
        let ftdi = try #require(SerialDeviceInfo(facts: UdevFixtures.ftdi))
        #expect(table.enumerated(ftdi) == .added(ftdi))
        // Seen by both the enumeration and the monitor: reported once.
        #expect(table.apply(action: "add", device: ftdi) == nil)
        // On remove, sysfs is gone: only the uevent's properties are left.
        var gone = ftdi
        gone.properties = ["ACTION": "remove", "DEVNAME": "/dev/ttyUSB0"]
        gone.rawProperties = gone.properties
        gone.stableID = "path-broken"
        guard case .removed(let removed) = table.apply(action: "remove", device: gone) else {
            Issue.record("expected a removal")
            return
        }
        #expect(removed.stableID == "usb-0403-6001-A50285BI")
        #expect(removed.rawProperties["ACTION"] == "remove")
        #expect(table.apply(action: "remove", device: gone) == nil)
        #expect(table.apply(action: "change", device: ftdi) == .changed(ftdi))
    }

    @Test func theMonitorSourceFollowsUdevdsControlSocket() {
        #expect(MonitorSource.detect(controlSocket: "/nonexistent/udev/control") == .kernel)
        #expect(MonitorSource.detect(controlSocket: "/proc/self/status") == .udev)
    }
}
