import SerialBridgeProtocol

/// One gateway message's readings, as a request to a backend's group commit (``GroupCommit``).
struct ReadingBatch: Sendable {
    /// The readings, in the order the gateway sent them.
    var readings: [Reading]
    /// When the server received them, ms since 1970.
    var receivedAt: Int64
}
