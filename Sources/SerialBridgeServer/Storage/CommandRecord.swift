import SerialBridgeProtocol

/// A command sent to a device through the API, and how it ended: kept so that its result can be
/// read again later (`GET /api/commands/{id}`).
public struct CommandRecord: Sendable, Hashable {
    /// The API's id for the command (not the id used on the gateway link, which restarts with the server).
    public var id: String
    /// Gateway id.
    public var gateway: String
    /// Device id within the gateway.
    public var device: String
    /// Command name in the device's profile.
    public var name: String
    /// Arguments by name, in the order given.
    public var arguments: [(String, Double)]
    /// `pending` until a result is stored, then the result's status (`answered`, `sent`,
    /// `exception`, `timeout`, `failed`).
    public var status: String
    /// The result's explanation (exception, timeout, failure).
    public var message: String?
    /// The device's answer, for `answered`.
    public var response: [UInt8]?
    /// The Modbus exception code, for `exception`.
    public var exceptionCode: Int?
    /// Who asked, when the server knows (a logged-in user).
    public var requestedBy: String?
    /// When the API received it, ms since 1970.
    public var requestedAt: Int64
    /// When its result was stored, ms since 1970; nil while pending.
    public var finishedAt: Int64?

    /// A pending command.
    public init(
        id: String, gateway: String, device: String, name: String, arguments: [(String, Double)],
        requestedBy: String? = nil, requestedAt: Int64
    ) {
        self.id = id
        self.gateway = gateway
        self.device = device
        self.name = name
        self.arguments = arguments
        self.status = Self.pending
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
    }

    /// The status of a command without a result yet.
    public static let pending = "pending"

    /// This record finished with `result` at `time`.
    public func finished(with result: CommandResultMessage, at time: Int64) -> CommandRecord {
        var record = self
        record.status = result.status.rawValue
        record.message = result.message
        record.response = result.response
        record.exceptionCode = result.exceptionCode
        record.finishedAt = time
        return record
    }

    public static func == (lhs: CommandRecord, rhs: CommandRecord) -> Bool {
        lhs.id == rhs.id && lhs.gateway == rhs.gateway && lhs.device == rhs.device && lhs.name == rhs.name
            && lhs.arguments.elementsEqual(rhs.arguments, by: { $0 == $1 }) && lhs.status == rhs.status
            && lhs.message == rhs.message && lhs.response == rhs.response && lhs.exceptionCode == rhs.exceptionCode
            && lhs.requestedBy == rhs.requestedBy && lhs.requestedAt == rhs.requestedAt && lhs.finishedAt == rhs.finishedAt
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(status)
    }
}
