import SerialBridgeProfiles

/// One serial device as the gateway sees it: where it is, what it is, and the id that survives
/// replugging. A plain value, built from ``DeviceFacts`` by a pure initializer.
public struct SerialDeviceInfo: Sendable, Hashable {
    /// The device node, e.g. `/dev/ttyUSB0`.
    public var devnode: String
    /// The kernel name, e.g. `ttyUSB0`.
    public var sysname: String
    /// The subsystem (`tty`).
    public var subsystem: String
    /// The path below `/sys`.
    public var devpath: String
    /// The driver behind the port (`ftdi_sio`, `cdc_acm`, `serial`, …), from ``properties``'s `DRIVER`.
    public var driver: String?
    /// The properties libudev reported, unchanged: for monitor events, the uevent's environment
    /// (`ACTION`, `SEQNUM`, and `SYNTH_UUID` / `SYNTH_ARG_*` for synthetic uevents).
    public var rawProperties: [String: String]
    /// ``rawProperties`` plus the keys derived from the USB parent and ancestors
    /// (see ``DerivedProperties``): what profiles are matched against.
    public var properties: [String: String]
    /// `/dev/serial/by-id/…` links pointing at ``devnode`` (only present where udevd runs).
    public var byIDLinks: [String]
    /// `/dev/serial/by-path/…` links pointing at ``devnode`` (only present where udevd runs).
    public var byPathLinks: [String]
    /// `ID_PATH`, or the hardware parent's sysfs path when there is none (see ``StableID``).
    public var physicalPath: String
    /// The id that survives replugging and renumbering (see ``StableID``).
    public var stableID: String

    /// Derives everything from `facts`; `byID` and `byPath` are the links found for the node.
    /// Returns nil when the device has no device node.
    public init?(facts: DeviceFacts, byID: [String] = [], byPath: [String] = []) {
        guard let devnode = facts.devnode else { return nil }
        let properties = DerivedProperties.derive(facts)
        let physicalPath = StableID.physicalPath(properties: properties, facts: facts)
        self.devnode = devnode
        self.sysname = facts.sysname
        self.subsystem = facts.subsystem
        self.devpath = facts.devpath
        self.driver = properties["DRIVER"]
        self.rawProperties = facts.properties
        self.properties = properties
        self.byIDLinks = byID.sorted()
        self.byPathLinks = byPath.sorted()
        self.physicalPath = physicalPath
        self.stableID = StableID.make(properties: properties, physicalPath: physicalPath)
    }

    /// The node and its links, node first: the paths profile `paths` globs are matched against.
    public var paths: [String] { [devnode] + byIDLinks + byPathLinks }

    /// The device as ``ProfileMatcher`` sees it.
    public var candidate: ProfileMatcher.Candidate {
        ProfileMatcher.Candidate(properties: properties, paths: paths)
    }
}
