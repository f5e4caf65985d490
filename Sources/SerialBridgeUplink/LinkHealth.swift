/// What the uplink knows about its link, for status, metrics and the `link` report to the server:
/// a value the uplink updates under its lock and hands out as a snapshot.
public struct LinkHealth: Sendable, Hashable {
    /// Why a connection ended (or never started).
    public enum Cause: String, Sendable, Hashable, CaseIterable, Comparable {
        /// TCP, TLS or the WebSocket handshake failed.
        case connectFailed = "connect-failed"
        /// The server refused the token or the upgrade.
        case refused
        /// The server closed the connection (its close code is in ``lastCloseCode``).
        case closedByServer = "closed-by-server"
        /// The link dropped without a close frame.
        case dropped
        /// Heartbeats went unanswered.
        case heartbeatTimeout = "heartbeat-timeout"
        /// The connection reached its maximum age and was replaced.
        case connectionAge = "connection-age"
        /// The server broke the protocol (no `welcome`, an `error`).
        case protocolError = "protocol-error"

        public static func < (lhs: Cause, rhs: Cause) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The link's state.
    public var state: Uplink.LinkState = .connecting
    /// The server URL of the current or last connection.
    public var server: String = ""
    /// When the current connection came up (ms since 1970), nil while down.
    public var upSince: Int64?
    /// Connections that reached `welcome`.
    public var connections: Int = 0
    /// Ended connections and failed attempts, by cause.
    public var endings: [Cause: Int] = [:]
    /// Close code of the last close frame the server sent, if any.
    public var lastCloseCode: Int?
    /// Close frames the server sent, by close code.
    public var serverCloses: [Int: Int] = [:]
    /// Heartbeats unanswered right now, and in all.
    public var missedBeats: Int = 0
    /// Heartbeats unanswered since start.
    public var totalMissedBeats: Int = 0
    /// WebSocket messages and payload bytes sent.
    public var messagesOut: UInt64 = 0
    /// Payload bytes sent.
    public var bytesOut: UInt64 = 0
    /// WebSocket messages received.
    public var messagesIn: UInt64 = 0
    /// Payload bytes received.
    public var bytesIn: UInt64 = 0
    /// Frames (readings and device events) written, resends included.
    public var framesOut: UInt64 = 0
    private var rttSamples: [Int64] = []
    private var nextSample = 0

    /// Creates empty health.
    public init() {}

    /// Most round-trip samples kept for the mean and the 99th percentile.
    public static let sampleCount = 512

    /// Records a heartbeat round trip.
    public mutating func recordRoundTrip(milliseconds: Int64) {
        if rttSamples.count < Self.sampleCount {
            rttSamples.append(milliseconds)
        } else {
            rttSamples[nextSample] = milliseconds
        }
        nextSample = (nextSample + 1) % Self.sampleCount
        lastRoundTrip = milliseconds
    }

    /// The last heartbeat round trip, in milliseconds.
    public private(set) var lastRoundTrip: Int64?

    /// Mean of the recent round trips, in milliseconds.
    public var meanRoundTrip: Double? {
        rttSamples.isEmpty ? nil : Double(rttSamples.reduce(0, +)) / Double(rttSamples.count)
    }

    /// 99th percentile of the recent round trips (nearest rank), in milliseconds.
    public var p99RoundTrip: Int64? {
        guard !rttSamples.isEmpty else { return nil }
        let sorted = rttSamples.sorted()
        let rank = Int((0.99 * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }

    /// Records the end of a connection or attempt.
    public mutating func ended(_ cause: Cause) {
        endings[cause, default: 0] += 1
        upSince = nil
    }

    /// Reconnects so far: every ending but the last run's.
    public var reconnects: Int { endings.values.reduce(0, +) }
}
