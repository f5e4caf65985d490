/// `command`: the server asks the gateway to send a device's named command (from its profile).
public struct CommandRequest: Sendable, Hashable {
    /// The server's id for this command, echoed in the result.
    public var id: String
    /// Device id.
    public var device: String
    /// Command name in the device's profile.
    public var name: String
    /// Arguments by name (numbers).
    public var arguments: [String: Double]

    /// Creates a request.
    public init(id: String, device: String, name: String, arguments: [String: Double] = [:]) {
        self.id = id
        self.device = device
        self.name = name
        self.arguments = arguments
    }
}

/// `command_result`: how a command ended.
public struct CommandResultMessage: Sendable, Hashable {
    /// Outcomes.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// The device answered (`response` holds the answer's bytes).
        case answered
        /// Written; the command expects no answer.
        case sent
        /// A Modbus exception answer (`exceptionCode`, `message`).
        case exception
        /// No answer in time, after the command's retries.
        case timeout
        /// Not sent: unknown device or command, bad arguments, port closed (`message` says which).
        case failed
    }

    /// The request's id.
    public var id: String
    /// Device id.
    public var device: String
    /// Outcome.
    public var status: Status
    /// The answer's bytes, for `answered`.
    public var response: [UInt8]?
    /// The Modbus exception code, for `exception`.
    public var exceptionCode: Int?
    /// A human explanation, for `exception`, `timeout` and `failed`.
    public var message: String?

    /// Creates a result.
    public init(id: String, device: String, status: Status, response: [UInt8]? = nil, exceptionCode: Int? = nil, message: String? = nil) {
        self.id = id
        self.device = device
        self.status = status
        self.response = response
        self.exceptionCode = exceptionCode
        self.message = message
    }
}

/// `tap_start` / `tap_stop`: the server starts or stops watching a device's raw traffic.
public struct TapRequest: Sendable, Hashable {
    /// Device id.
    public var device: String

    /// Creates a request.
    public init(device: String) {
        self.device = device
    }
}

/// `tap_data`: raw bytes a device sent (`rx`) or the gateway wrote to it (`tx`), while tapped.
public struct TapData: Sendable, Hashable {
    /// Direction of the bytes.
    public enum Direction: String, Sendable, Hashable, CaseIterable {
        case rx, tx
    }

    /// Device id.
    public var device: String
    /// When read or written, ms since 1970 UTC.
    public var timestamp: Int64
    /// Direction.
    public var direction: Direction
    /// The bytes.
    public var bytes: [UInt8]
    /// Bytes the gateway dropped since the previous `tap_data` because the link was too slow.
    public var dropped: Int64

    /// Creates tap data.
    public init(device: String, timestamp: Int64, direction: Direction, bytes: [UInt8], dropped: Int64 = 0) {
        self.device = device
        self.timestamp = timestamp
        self.direction = direction
        self.bytes = bytes
        self.dropped = dropped
    }
}

/// `link`: the gateway's view of its link, reported on every connection and then periodically.
public struct LinkReport: Sendable, Hashable {
    /// When, ms since 1970 UTC.
    public var timestamp: Int64
    /// Last, mean and 99th-percentile heartbeat round trip in ms (nil before the first).
    public var rttLastMs: Int64?
    /// Mean round trip.
    public var rttMeanMs: Double?
    /// 99th percentile round trip.
    public var rttP99Ms: Int64?
    /// Heartbeats unanswered since the gateway started.
    public var missedBeats: Int64
    /// Connections ended so far, by cause.
    public var endings: [(String, Int64)]
    /// Messages and bytes sent and received since start.
    public var messagesOut: Int64
    /// Bytes sent.
    public var bytesOut: Int64
    /// Messages received.
    public var messagesIn: Int64
    /// Bytes received.
    public var bytesIn: Int64
    /// Frames waiting for acknowledgement.
    public var queueDepth: Int64

    /// Creates a report.
    public init(
        timestamp: Int64, rttLastMs: Int64? = nil, rttMeanMs: Double? = nil, rttP99Ms: Int64? = nil, missedBeats: Int64 = 0,
        endings: [(String, Int64)] = [], messagesOut: Int64 = 0, bytesOut: Int64 = 0, messagesIn: Int64 = 0,
        bytesIn: Int64 = 0, queueDepth: Int64 = 0
    ) {
        self.timestamp = timestamp
        self.rttLastMs = rttLastMs
        self.rttMeanMs = rttMeanMs
        self.rttP99Ms = rttP99Ms
        self.missedBeats = missedBeats
        self.endings = endings
        self.messagesOut = messagesOut
        self.bytesOut = bytesOut
        self.messagesIn = messagesIn
        self.bytesIn = bytesIn
        self.queueDepth = queueDepth
    }

    public static func == (lhs: LinkReport, rhs: LinkReport) -> Bool {
        lhs.timestamp == rhs.timestamp && lhs.rttLastMs == rhs.rttLastMs && lhs.rttMeanMs == rhs.rttMeanMs
            && lhs.rttP99Ms == rhs.rttP99Ms && lhs.missedBeats == rhs.missedBeats
            && lhs.endings.elementsEqual(rhs.endings, by: { $0 == $1 }) && lhs.messagesOut == rhs.messagesOut
            && lhs.bytesOut == rhs.bytesOut && lhs.messagesIn == rhs.messagesIn && lhs.bytesIn == rhs.bytesIn
            && lhs.queueDepth == rhs.queueDepth
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(timestamp)
        hasher.combine(messagesOut)
    }
}
