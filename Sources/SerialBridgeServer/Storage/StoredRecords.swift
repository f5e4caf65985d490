import SerialBridgeProtocol

/// A device as the API lists it.
public struct DeviceSummary: Sendable, Hashable {
    /// API id: `GATEWAY:DEVICE`.
    public var id: String
    /// Gateway id.
    public var gateway: String
    /// Device id within the gateway.
    public var device: String
    /// Profile of its latest reading.
    public var profile: String
    /// Its latest reading's timestamp (ms).
    public var lastTimestamp: Int64
    /// Its latest values, as a JSON object.
    public var lastValuesJSON: String
    /// Units, as a JSON object.
    public var unitsJSON: String
    /// Readings stored (retention's deletions are subtracted).
    public var readingCount: Int64
    /// Names of the latest values outside their valid range, as a JSON array; nil when none.
    public var lastOutOfRangeJSON: String?
    /// Latest session state reported by the gateway (`attached`, `detached`, `error`), if any.
    public var state: String?
    /// The message of the latest state, e.g. why the port could not be opened.
    public var stateMessage: String?
    /// The counters of the latest state, as a JSON object (bytes, frames, decodeErrors, …); nil before any event.
    public var stateCountersJSON: String?
    /// The commands the device takes, as a JSON array (``CommandDescription``); nil until its
    /// gateway has described them.
    public var commandsJSON: String? = nil
}

/// A stored reading as the API returns it.
public struct StoredReading: Sendable, Hashable {
    /// Identity within the gateway.
    public var id: ReadingID
    /// Timestamp (ms).
    public var timestamp: Int64
    /// Values, as a JSON object.
    public var valuesJSON: String
    /// Names of values outside their valid range, as a JSON array; nil when none.
    public var outOfRangeJSON: String?
}

/// What the server keeps of a gateway between connections: what its last `hello` said, and when it
/// was last heard from.
public struct StoredGateway: Sendable, Hashable {
    /// Gateway id.
    public var gateway: String
    /// Software version from its last `hello`.
    public var software: String
    /// Run epoch from its last `hello`.
    public var epoch: Int64
    /// Frames its spool had dropped, from its last `hello`; nil when it does not report it.
    public var dropped: Int64?
    /// When it last said hello or had readings stored, ms since 1970.
    public var lastSeen: Int64
}

/// A device's latest session state, from the newest of its device events.
public struct DeviceStateRecord: Sendable, Hashable {
    /// `attached`, `detached` or `error`.
    public var state: String
    /// Why, for `error` and `detached`.
    public var message: String?
    /// The session's counters, as a JSON object.
    public var countersJSON: String
}
