/// The protocol versions this build speaks.
public enum ProtocolVersion {
    /// The current version.
    public static let current = 1
    /// Every version this build can speak, newest first.
    public static let supported = [1]
}

/// The identity of a reading: unique for its gateway forever, because the epoch grows (durably)
/// at every gateway start and the sequence grows within an epoch.
public struct ReadingID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Run epoch of the gateway process that made the reading.
    public var epoch: Int64
    /// Sequence number within the epoch, from 1.
    public var sequence: Int64

    /// Creates an identity.
    public init(epoch: Int64, sequence: Int64) {
        self.epoch = epoch
        self.sequence = sequence
    }

    public static func < (lhs: ReadingID, rhs: ReadingID) -> Bool {
        (lhs.epoch, lhs.sequence) < (rhs.epoch, rhs.sequence)
    }

    public var description: String { "\(epoch)/\(sequence)" }
}

/// A typed value as it travels.
public enum WireValue: Sendable, Hashable {
    case float(Double)
    case integer(Int64)
    case string(String)
    case boolean(Bool)
    /// Opaque bytes, e.g. a raw frame; travels as `{"base64": "..."}`.
    case bytes([UInt8])
}

/// A named value of a reading with its unit.
public struct NamedValue: Sendable, Hashable {
    /// Value name.
    public var name: String
    /// The value.
    public var value: WireValue
    /// Unit, if the profile gives one.
    public var unit: String?

    /// Creates a named value.
    public init(name: String, value: WireValue, unit: String? = nil) {
        self.name = name
        self.value = value
        self.unit = unit
    }
}

/// `hello`: the gateway's first message on a connection.
public struct Hello: Sendable, Hashable {
    /// Gateway id; must match the gateway the token was issued to.
    public var gateway: String
    /// Gateway software version.
    public var software: String
    /// Protocol versions the gateway speaks.
    public var protocols: [Int]
    /// The gateway's current run epoch.
    public var epoch: Int64
    /// The last sequence number the gateway has assigned in this epoch (0 if none yet).
    public var lastSequence: Int64
    /// Frames the gateway's spool has dropped since it was created (quota, age, write errors);
    /// nil from gateways that do not report it.
    public var dropped: Int64?

    /// Creates a hello.
    public init(
        gateway: String, software: String, protocols: [Int] = ProtocolVersion.supported, epoch: Int64, lastSequence: Int64,
        dropped: Int64? = nil
    ) {
        self.gateway = gateway
        self.software = software
        self.protocols = protocols
        self.epoch = epoch
        self.lastSequence = lastSequence
        self.dropped = dropped
    }
}

/// `welcome`: the server's answer to `hello`.
public struct Welcome: Sendable, Hashable {
    /// The protocol version chosen for this connection.
    public var protocolVersion: Int
    /// The newest reading the server has stored for this gateway, if any.
    public var acked: ReadingID?
    /// Interval at which the gateway should send `ping`, in milliseconds.
    public var heartbeatMs: Int64
    /// Largest message the server accepts whole; larger ones must be chunked.
    public var maxMessageBytes: Int64
    /// Size of the chunk messages to cut larger messages into.
    public var chunkBytes: Int64

    /// Creates a welcome (defaults: 10 s heartbeats, 64 KiB messages and chunks).
    public init(
        protocolVersion: Int = ProtocolVersion.current, acked: ReadingID?, heartbeatMs: Int64 = 10_000,
        maxMessageBytes: Int64 = 65_536, chunkBytes: Int64 = 65_536
    ) {
        self.protocolVersion = protocolVersion
        self.acked = acked
        self.heartbeatMs = heartbeatMs
        self.maxMessageBytes = maxMessageBytes
        self.chunkBytes = chunkBytes
    }
}

/// `reading`: one decoded reading from one device.
public struct Reading: Sendable, Hashable {
    /// Gateway id.
    public var gateway: String
    /// Identity within the gateway.
    public var id: ReadingID
    /// Device id, stable across replugging.
    public var device: String
    /// Profile name that decoded it.
    public var profile: String
    /// When the frame was read, milliseconds since 1970-01-01 UTC.
    public var timestamp: Int64
    /// Values in the profile's order.
    public var values: [NamedValue]
    /// Names of values outside the profile's valid range (they are still reported).
    public var outOfRange: [String]

    /// Creates a reading.
    public init(
        gateway: String, id: ReadingID, device: String, profile: String, timestamp: Int64,
        values: [NamedValue], outOfRange: [String] = []
    ) {
        self.gateway = gateway
        self.id = id
        self.device = device
        self.profile = profile
        self.timestamp = timestamp
        self.values = values
        self.outOfRange = outOfRange
    }
}

/// `ack`: every reading up to and including `id` (in this epoch and all earlier ones) is stored.
public struct Ack: Sendable, Hashable {
    /// The acknowledged identity.
    public var id: ReadingID

    /// Creates an ack.
    public init(id: ReadingID) { self.id = id }
}

/// `ping` and `pong`: application-level heartbeats carrying timestamps for RTT.
public struct Heartbeat: Sendable, Hashable {
    /// Sender's timestamp in milliseconds (echoed back unchanged in `pong`).
    public var timestamp: Int64
    /// In `pong`, the server's own clock in milliseconds.
    public var serverTimestamp: Int64?

    /// Creates a heartbeat.
    public init(timestamp: Int64, serverTimestamp: Int64? = nil) {
        self.timestamp = timestamp
        self.serverTimestamp = serverTimestamp
    }
}

/// `device`: a device session's state changed (attached, detached, error), with its counters.
///
/// Numbered like readings (same epoch and sequence), so it is acknowledged and stored once.
public struct DeviceStateChange: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case attached, detached, error
    }

    /// Gateway id.
    public var gateway: String
    /// Identity within the gateway.
    public var id: ReadingID
    /// Device id.
    public var device: String
    /// What happened.
    public var kind: Kind
    /// Profile bound to the device.
    public var profile: String
    /// Port path.
    public var path: String
    /// When, milliseconds since 1970 UTC.
    public var timestamp: Int64
    /// Why, for `error` and `detached`.
    public var message: String?
    /// Counters of the session so far, by name (bytes, frames, readings, decodeErrors, …).
    public var counters: [(String, Int64)]
    /// The commands the device takes (sent with `attached`; empty when it takes none); nil when
    /// the event does not say.
    public var commands: [CommandDescription]?

    /// Creates an event.
    public init(
        gateway: String, id: ReadingID, device: String, kind: Kind, profile: String, path: String,
        timestamp: Int64, message: String? = nil, counters: [(String, Int64)] = [], commands: [CommandDescription]? = nil
    ) {
        self.gateway = gateway
        self.id = id
        self.device = device
        self.kind = kind
        self.profile = profile
        self.path = path
        self.timestamp = timestamp
        self.message = message
        self.counters = counters
        self.commands = commands
    }

    public static func == (lhs: DeviceStateChange, rhs: DeviceStateChange) -> Bool {
        lhs.gateway == rhs.gateway && lhs.id == rhs.id && lhs.device == rhs.device && lhs.kind == rhs.kind
            && lhs.profile == rhs.profile && lhs.path == rhs.path && lhs.timestamp == rhs.timestamp
            && lhs.message == rhs.message && lhs.counters.elementsEqual(rhs.counters, by: { $0 == $1 })
            && lhs.commands == rhs.commands
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(gateway)
        hasher.combine(id)
        hasher.combine(device)
        hasher.combine(kind)
    }
}

/// `error`: the peer explains what it rejected before (possibly) closing.
public struct ProtocolErrorMessage: Sendable, Hashable {
    /// A stable machine-readable code, e.g. `bad-message`, `gateway-mismatch`.
    public var code: String
    /// A human explanation.
    public var message: String

    /// Creates an error message.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// Every message of protocol version 1.
public enum Message: Sendable, Hashable {
    case hello(Hello)
    case welcome(Welcome)
    case reading(Reading)
    case device(DeviceStateChange)
    case ack(Ack)
    case ping(Heartbeat)
    case pong(Heartbeat)
    case error(ProtocolErrorMessage)
    /// Several readings and device events in one message, in identity order.
    case batch([Message])
    /// Server → gateway: send a device's named command.
    case command(CommandRequest)
    /// Gateway → server: how a command ended.
    case commandResult(CommandResultMessage)
    /// Server → gateway: start forwarding a device's raw traffic.
    case tapStart(TapRequest)
    /// Server → gateway: stop forwarding a device's raw traffic.
    case tapStop(TapRequest)
    /// Gateway → server: raw traffic of a tapped device.
    case tapData(TapData)
    /// Gateway → server: link health.
    case link(LinkReport)
}
