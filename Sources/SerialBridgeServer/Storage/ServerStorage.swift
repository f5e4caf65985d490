import SerialBridgeProtocol

/// Everything the server stores, behind one protocol so that backends can be swapped: SQLite
/// (``SQLiteStorage``) by default, PostgreSQL later. Every backend must keep these guarantees:
///
/// - A reading or device event is stored at most once per (gateway, epoch, sequence), also after
///   retention deleted it (``lastStored(gateway:)`` never goes backwards), so acknowledgements stay true.
/// - Inserting readings commits the whole batch, its device totals and its rollup
///   cells in one transaction before returning: an ack sent after it is never a lie.
/// - Times are ms since 1970 UTC; lists come oldest first.
public protocol ServerStorage: Sendable {
    // MARK: Ingest

    /// Stores readings in one transaction, skipping any already stored; returns the new ones, in order.
    /// Their numeric values are rolled up per minute and hour in the same transaction.
    func insert(_ readings: [Reading], receivedAt: Int64) async throws -> [Reading]

    /// Stores a device event once; true when it was new. The device's current state follows the
    /// newest event by identity, so a resent old event never overrides a newer one.
    func insert(_ event: DeviceStateChange, receivedAt: Int64) async throws -> Bool

    /// Keeps what a gateway's `hello` says (software, epoch, spool drops). Returns the dropped count
    /// stored before, so a rise can be logged.
    func recordHello(_ hello: Hello, receivedAt: Int64) async throws -> Int64?

    /// The newest identity stored for `gateway`, readings and device events alike (the `welcome` mark).
    func lastStored(gateway: String) async throws -> ReadingID?

    /// Stores a gateway going online or offline, with why.
    func recordGatewayEvent(gateway: String, kind: GatewayEventKind, at time: Int64, reason: String?) async throws

    // MARK: Gateways and devices

    /// Every gateway that ever said hello, by id.
    func gateways() async throws -> [StoredGateway]

    /// One gateway, or nil when it never said hello.
    func gatewayStatus(gateway: String) async throws -> StoredGateway?

    /// Devices that have sent readings, by gateway then device id; only `gateway`'s when given.
    func devices(gateway: String?) async throws -> [DeviceSummary]

    /// One device, or nil when it has sent no reading.
    func device(gateway: String, device: String) async throws -> DeviceSummary?

    /// A device's latest session state, or nil before its first device event.
    func deviceState(gateway: String, device: String) async throws -> DeviceStateRecord?

    // MARK: History

    /// The newest `limit` readings of a device (by identity), oldest first.
    func readings(gateway: String, device: String, limit: Int) async throws -> [StoredReading]

    /// A device's readings with `from <= ts <= to`, by timestamp; the newest `limit` when there are more.
    func readings(gateway: String, device: String, from: Int64, to: Int64, limit: Int) async throws -> [StoredReading]

    /// How many readings a device has with `from <= ts <= to`, counting no further than `atMost`.
    func countReadings(gateway: String, device: String, from: Int64, to: Int64, atMost: Int) async throws -> Int

    /// Downsampled history from the `resolution` rollups: buckets of `step` ms (a multiple of the
    /// resolution) starting at multiples of `step`, covering `from ... to`; empty buckets are left out.
    func history(
        gateway: String, device: String, from: Int64, to: Int64, step: Int64, resolution: RollupResolution
    ) async throws -> [HistoryBucket]

    // MARK: Events

    /// Device and gateway events matching `query`: the newest `query.limit`, oldest first.
    func events(_ query: EventQuery) async throws -> [StoredEvent]

    // MARK: Commands

    /// Stores a command before it is sent (status `pending`).
    func recordCommand(_ command: CommandRecord) async throws

    /// Stores how the command `id` ended.
    func finishCommand(id: String, result: CommandResultMessage, at time: Int64) async throws

    /// One command and its result, or nil for an unknown id.
    func command(id: String) async throws -> CommandRecord?

    /// A device's newest `limit` commands, oldest first.
    func commands(gateway: String, device: String, limit: Int) async throws -> [CommandRecord]

    // MARK: Retention

    /// Deletes what is older than `cutoffs`, in write transactions of at most `batchSize` rows, so that
    /// ingest waits for one small batch at most; returns how much went.
    func prune(_ cutoffs: RetentionCutoffs, batchSize: Int) async throws -> PruneReport
}

extension ServerStorage {
    /// Every device that has sent readings, by gateway then device id.
    public func devices() async throws -> [DeviceSummary] {
        try await devices(gateway: nil)
    }
}
