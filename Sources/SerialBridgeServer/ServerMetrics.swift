import Prometheus
import Synchronization

/// The server's Prometheus metrics, on its own registry (so that several servers in one process,
/// as in tests, keep separate counts). Served at `/metrics`; every name is listed in docs/API.md.
public final class ServerMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry

    let gatewaysConnected: Gauge
    let connections: Counter
    let messagesReceived: Counter
    let bytesReceived: Counter
    let readingsStored: Counter
    let readingsDuplicate: Counter
    let deviceEvents: Counter
    let throttledWaits: Counter
    let heartbeatTimeouts: Counter
    let storageFailures: Counter
    /// Time from a message's arrival to its `ack` (storage included).
    let ackLatency: DurationHistogram
    let liveSubscribers: Gauge
    private let liveDropped: Counter
    /// ``LiveFeed/dropped`` at the last scrape, to add only what is new to ``liveDropped``.
    private let liveDroppedSeen = Atomic<UInt64>(0)
    private let closesByCode: [UInt16: Counter]
    private let closesOther: Counter
    private let rejectedByReason: [String: Counter]

    /// Reasons a message or connection is refused, each a label value of `serialbridge_server_rejected_total`.
    static let rejectionReasons = [
        "bad-message", "bad-chunk", "too-large", "no-hello", "gateway-mismatch", "unsupported-version", "unknown-kind",
    ]
    static let closeCodes: [UInt16] = [1001, 1002, 1007, 1008, 1009, 1011, 1013, 4000, 4001]

    /// Creates the metrics on a fresh registry.
    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        gatewaysConnected = registry.makeGauge(name: "serialbridge_server_gateways_connected", help: "Gateway connections open now.")
        connections = registry.makeCounter(name: "serialbridge_server_gateway_connections_total", help: "Gateway connections accepted.")
        messagesReceived = registry.makeCounter(name: "serialbridge_server_messages_received_total", help: "WebSocket messages received from gateways.")
        bytesReceived = registry.makeCounter(name: "serialbridge_server_bytes_received_total", help: "Payload bytes received from gateways.")
        readingsStored = registry.makeCounter(name: "serialbridge_server_readings_stored_total", help: "Readings stored (new ones).")
        readingsDuplicate = registry.makeCounter(
            name: "serialbridge_server_readings_duplicate_total", help: "Readings received again after they were stored (resends), acknowledged and not stored twice."
        )
        deviceEvents = registry.makeCounter(name: "serialbridge_server_device_events_total", help: "Device events stored.")
        throttledWaits = registry.makeCounter(
            name: "serialbridge_server_rate_limited_total", help: "Times a gateway was paced because it went over its rate limit."
        )
        heartbeatTimeouts = registry.makeCounter(
            name: "serialbridge_server_heartbeat_timeouts_total", help: "Gateway connections closed because their heartbeats stopped."
        )
        storageFailures = registry.makeCounter(name: "serialbridge_server_storage_failures_total", help: "Failed storage writes (connection closed with 1011).")
        ackLatency = registry.makeDurationHistogram(
            name: "serialbridge_server_ack_latency_seconds",
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)],
            help: "From a message's arrival to its acknowledgement, storage included."
        )
        liveSubscribers = registry.makeGauge(name: "serialbridge_server_live_subscribers", help: "Dashboard WebSockets open now.")
        liveDropped = registry.makeCounter(
            name: "serialbridge_server_live_dropped_total", help: "Live updates dropped because a dashboard had 1,000 waiting (oldest first)."
        )
        var closes: [UInt16: Counter] = [:]
        for code in Self.closeCodes {
            closes[code] = registry.makeCounter(
                name: "serialbridge_server_closes_total", labels: [("code", String(code))], help: "Gateway connections the server closed, by close code."
            )
        }
        closesByCode = closes
        closesOther = registry.makeCounter(name: "serialbridge_server_closes_total", labels: [("code", "other")], help: "Gateway connections the server closed, by close code.")
        var rejected: [String: Counter] = [:]
        for reason in Self.rejectionReasons {
            rejected[reason] = registry.makeCounter(
                name: "serialbridge_server_rejected_total", labels: [("reason", reason)], help: "Messages refused, by reason."
            )
        }
        rejectedByReason = rejected
    }

    /// Copies the live feed's gauges and counters in, before a scrape.
    func update(from feed: LiveFeed) {
        liveSubscribers.set(Double(feed.subscriberCount))
        let total = feed.dropped
        let seen = liveDroppedSeen.exchange(total, ordering: .relaxed)
        if total > seen { liveDropped.increment(by: Int64(clamping: total - seen)) }
    }

    func closed(code: UInt16) {
        (closesByCode[code] ?? closesOther).increment()
    }

    func rejected(_ reason: String) {
        rejectedByReason[reason]?.increment()
    }

    /// The Prometheus text exposition.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        registry.emit(into: &buffer)
        return buffer
    }
}
