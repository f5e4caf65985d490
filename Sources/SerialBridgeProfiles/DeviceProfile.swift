import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeSerial

/// A device profile: how to recognise, open, frame, decode and simulate one kind of serial device.
///
/// Profiles are data (JSON files in a profile folder); ``ProfileLoader`` turns a file into this
/// validated model, so everything downstream can trust it.
public struct DeviceProfile: Sendable {
    /// Unique profile name, referenced by the gateway config.
    public var name: String
    /// Profile version (free text, semantic versioning recommended).
    public var version: String
    /// What the device is.
    public var description: String?
    /// Device manufacturer.
    public var manufacturer: String?
    /// Device model.
    public var model: String?
    /// Which attached devices this profile claims, if any (static ports need none).
    public var match: MatchRule?
    /// How to open the port.
    public var serial: SerialSettings
    /// Pause between bytes the gateway writes, for slow devices (0 = none).
    public var interByteGapMs: Int
    /// Framing, integrity, decoding and output.
    public var parsing: ParsingSpec
    /// How the device is asked for readings; nil when it talks on its own.
    public var polling: PollingSpec?
    /// The Modbus register map, for Modbus RTU devices.
    public var modbus: ModbusSpec?
    /// Named requests the gateway can send, by name.
    public var commands: [String: CommandSpec]
    /// What the simulator emits for this device, if it can play it.
    public var simulate: SimulationSpec?
    /// Hash of the profile file's bytes (0 for profiles built in code): a reload restarts only
    /// the sessions whose profile changed.
    public var digest: UInt64 = 0

    /// Creates a profile.
    public init(
        name: String, version: String = "0", description: String? = nil, manufacturer: String? = nil,
        model: String? = nil, match: MatchRule? = nil, serial: SerialSettings = SerialSettings(),
        interByteGapMs: Int = 0, parsing: ParsingSpec, polling: PollingSpec? = nil, modbus: ModbusSpec? = nil,
        commands: [String: CommandSpec] = [:], simulate: SimulationSpec? = nil
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.manufacturer = manufacturer
        self.model = model
        self.match = match
        self.serial = serial
        self.interByteGapMs = interByteGapMs
        self.parsing = parsing
        self.polling = polling
        self.modbus = modbus
        self.commands = commands
        self.simulate = simulate
    }

    /// The values of every reading, in order.
    public var outputFields: [OutputField] {
        modbus?.plan.outputFields ?? parsing.outputFields
    }

    /// The polling definition of this device at Modbus `unit` (default: the profile's), or nil
    /// when the device is not polled.
    public func polledDevice(name: String, unit: Int? = nil) -> PolledDevice? {
        guard let polling else { return nil }
        if let modbus {
            return PolledDevice(name: name, polling: polling, modbus: modbus, unit: UInt8(clamping: unit ?? modbus.unitId))
        }
        return PolledDevice(name: name, polling: polling, interpreter: FrameInterpreter(spec: parsing))
    }
}

/// Which devices a profile claims: udev properties (exact or glob) and/or device paths.
public struct MatchRule: Sendable, Hashable {
    /// Property name → glob pattern; all must match. `DRIVER` is the kernel driver, e.g. `ftdi_sio`.
    public var properties: [String: String]
    /// Path globs; when given, the device node or one of its links must match one.
    public var paths: [String]
    /// Higher wins when several profiles match.
    public var priority: Int

    /// Creates a rule.
    public init(properties: [String: String] = [:], paths: [String] = [], priority: Int = 0) {
        self.properties = properties
        self.paths = paths
        self.priority = priority
    }
}
