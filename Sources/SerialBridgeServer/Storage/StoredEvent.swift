import SerialBridgeProtocol

/// A gateway's connection came or went.
public enum GatewayEventKind: String, Sendable, Hashable, CaseIterable {
    /// The gateway connected (after `hello`).
    case online
    /// The gateway's connection ended or its heartbeats stopped.
    case offline
}

/// One entry of the event history: a device's session state change, or a gateway going online or
/// offline.
public struct StoredEvent: Sendable, Hashable {
    /// What the event is about.
    public enum Subject: Sendable, Hashable {
        /// A device event as the gateway sent it, numbered like readings.
        case device(device: String, id: ReadingID, profile: String, path: String, countersJSON: String)
        /// The server saw the gateway connect or go away.
        case gateway
    }

    /// Gateway id.
    public var gateway: String
    /// Device or gateway event, with what is particular to each.
    public var subject: Subject
    /// `attached`, `detached`, `error` for devices; `online`, `offline` for gateways.
    public var kind: String
    /// When it happened, ms since 1970 (the gateway's clock for device events, the server's for
    /// gateway events).
    public var timestamp: Int64
    /// Why, when known (an error's message, an offline reason).
    public var message: String?

    /// Creates an event.
    public init(gateway: String, subject: Subject, kind: String, timestamp: Int64, message: String?) {
        self.gateway = gateway
        self.subject = subject
        self.kind = kind
        self.timestamp = timestamp
        self.message = message
    }
}

/// Which events to list: newest first up to `limit`, returned oldest first.
public struct EventQuery: Sendable, Hashable {
    /// Only this gateway's events (device and gateway events alike); nil for all.
    public var gateway: String?
    /// Only this device's events (needs `gateway`); gateway events are then left out.
    public var device: String?
    /// Earliest timestamp, inclusive (ms).
    public var from: Int64?
    /// Latest timestamp, inclusive (ms).
    public var to: Int64?
    /// At most this many (the newest).
    public var limit: Int

    /// Creates a query.
    public init(gateway: String? = nil, device: String? = nil, from: Int64? = nil, to: Int64? = nil, limit: Int = 100) {
        self.gateway = gateway
        self.device = device
        self.from = from
        self.to = to
        self.limit = limit
    }
}
