import SerialBridgeSerial

/// A device profile: how to open, frame, decode and simulate one kind of serial device.
///
/// Profiles are data (JSON files in a profile folder); ``ProfileLoader`` turns a file into this
/// validated model, so everything downstream can trust it.
public struct DeviceProfile: Sendable, Hashable {
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
    /// How to open the port.
    public var serial: SerialSettings
    /// How to cut the byte stream into frames.
    public var framing: FramingSpec
    /// How to turn a frame into named values.
    public var decoding: DecodingSpec
    /// What the simulator emits for this device, if it can play it.
    public var simulate: SimulationSpec?

    /// Creates a profile.
    public init(
        name: String, version: String, description: String? = nil, manufacturer: String? = nil,
        model: String? = nil, serial: SerialSettings, framing: FramingSpec, decoding: DecodingSpec,
        simulate: SimulationSpec? = nil
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.manufacturer = manufacturer
        self.model = model
        self.serial = serial
        self.framing = framing
        self.decoding = decoding
        self.simulate = simulate
    }
}

/// How a byte stream is cut into frames. Each case names a framer registered under the same name.
public enum FramingSpec: Sendable, Hashable {
    /// Frames end at `terminator`; a carriage return just before it is dropped, so CRLF and LF
    /// lines both work. Lines longer than `maxLength` bytes are discarded and counted.
    case line(terminator: [UInt8], maxLength: Int)
}

/// How a frame is decoded. Each case names a decoder registered under the same name.
public enum DecodingSpec: Sendable, Hashable {
    /// Fields separated by one delimiter byte, in the order of `fields`.
    case delimited(delimiter: UInt8, fields: [FieldSpec])

    /// The values a reading of this profile carries, in order.
    public var fields: [FieldSpec] {
        switch self {
        case .delimited(_, let fields): fields.filter { !$0.skip }
        }
    }
}

/// One named value of a reading.
public struct FieldSpec: Sendable, Hashable {
    /// The value's type.
    public enum ValueType: String, Sendable, Hashable, CaseIterable {
        case float, integer, string, boolean
    }

    /// Value name, e.g. `temperature`.
    public var name: String
    /// Value type.
    public var type: ValueType
    /// Unit, e.g. `°C`.
    public var unit: String?
    /// When true the column is parsed past but not reported.
    public var skip: Bool

    /// Creates a field.
    public init(name: String, type: ValueType, unit: String? = nil, skip: Bool = false) {
        self.name = name
        self.type = type
        self.unit = unit
        self.skip = skip
    }
}

/// What the simulator writes: a template whose `{name}` placeholders are filled with generated values.
public struct SimulationSpec: Sendable, Hashable {
    /// A generated numeric value: a bounded random walk.
    public struct Generator: Sendable, Hashable {
        /// Lowest value.
        public var min: Double
        /// Highest value.
        public var max: Double
        /// Digits after the decimal point.
        public var decimals: Int

        /// Creates a generator.
        public init(min: Double, max: Double, decimals: Int) {
            self.min = min
            self.max = max
            self.decimals = decimals
        }
    }

    /// Output template, e.g. `{temperature},{humidity}\r\n`.
    public var template: String
    /// Generators by placeholder name.
    public var values: [String: Generator]

    /// Creates a simulation spec.
    public init(template: String, values: [String: Generator]) {
        self.template = template
        self.values = values
    }
}
