import Prometheus
import SerialBridgeProtocol
import SerialBridgeSpool
import SerialBridgeUplink
import Synchronization

/// The gateway's metrics in Prometheus text format (README "Metrics" lists them all).
///
/// Nothing on a hot path updates a metric: every value already exists as a counter of the uplink,
/// the spool or a device session, and ``exposition()`` copies them into this gateway's own
/// ``registry`` at scrape time, then renders it. Each gateway owns its registry (tests run many
/// gateways in one process); metrics made through ``factory`` by swift-metrics users land in the
/// same registry and are served alongside.
public final class GatewayMetrics: Sendable {
    /// This gateway's registry.
    public let registry = PrometheusCollectorRegistry()
    private let uplink: Uplink
    private let queue: OutboundQueue
    private let devices: DeviceCounterBoard
    // Serialises scrapes: a snapshot sets counters by reset-and-increment.
    private let instruments: Mutex<Instruments>

    /// Creates the metrics of one gateway.
    public init(gateway: String, version: String, epoch: Int64, uplink: Uplink, queue: OutboundQueue, devices: DeviceCounterBoard) {
        self.uplink = uplink
        self.queue = queue
        self.devices = devices
        instruments = Mutex(Instruments(registry: registry))
        let info = Instruments.gauge(registry, "serialbridge_gateway_info", "Always 1; labels name the gateway and its software version.", [("gateway", gateway), ("version", version)])
        info.set(1.0)
        Instruments.gauge(registry, "serialbridge_gateway_epoch", "This run's epoch: the first half of every reading's identity, one higher at every start.").set(Double(epoch))
    }

    /// A swift-metrics factory recording into ``registry`` (e.g. for `MetricsSystem.bootstrap`).
    public var factory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    /// The metrics now, in Prometheus text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] {
        let health = uplink.health
        let uptime = uplink.connectionUptime
        let queueNow = queue.snapshot
        let spool = queue.spool.status
        let devices = devices.snapshot
        let now = Timestamp.nowMilliseconds()
        return instruments.withLock { instruments in
            instruments.update(link: health, uptime: uptime)
            instruments.update(queue: queueNow, spool: spool, now: now)
            instruments.update(devices: devices)
            return registry.emitToBuffer()
        }
    }
}

/// The Prometheus metrics a scrape sets, made once (per device: when the device first appears).
private struct Instruments {
    let registry: PrometheusCollectorRegistry
    let state: [(Uplink.LinkState, Gauge)]
    /// Last, mean and 99th percentile round trip; made once the first heartbeat is answered.
    var rtt: (last: Gauge, mean: Gauge, p99: Gauge)?
    let missedNow: Gauge
    let missedTotal: Counter
    let endings: [(LinkHealth.Cause, Counter)]
    var closes: [Int: Counter] = [:]
    let connections: Counter
    let uptime: Gauge
    let messagesOut: Counter
    let bytesOut: Counter
    let messagesIn: Counter
    let bytesIn: Counter
    let framesOut: Counter
    let depth: Gauge
    let unsent: Gauge
    let spoolBytes: Gauge
    let oldestAge: Gauge
    let dropped: Counter
    var devices: [String: DeviceInstruments] = [:]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        let stateHelp = "1 for the link's current state, 0 for the others: connecting (dialling, upgrade, waiting for welcome), up, waiting (backing off before a redial), stopped."
        state = Uplink.LinkState.allCases.map { ($0, Self.gauge(registry, "serialbridge_link_state", stateHelp, [("state", $0.rawValue)])) }
        missedNow = Self.gauge(registry, "serialbridge_link_missed_heartbeats", "Heartbeats unanswered right now on the current connection.")
        missedTotal = Self.counter(registry, "serialbridge_link_missed_heartbeats_total", "Heartbeats that went unanswered since the gateway started.")
        let endingHelp = "Connections that ended and attempts that failed, by cause: connect-failed, refused, closed-by-server, dropped, heartbeat-timeout, connection-age, protocol-error."
        endings = LinkHealth.Cause.allCases.map { ($0, Self.counter(registry, "serialbridge_link_reconnects_total", endingHelp, [("cause", $0.rawValue)])) }
        connections = Self.counter(registry, "serialbridge_link_connections_total", "Connections that reached welcome.")
        uptime = Self.gauge(registry, "serialbridge_link_connection_uptime_seconds", "How long the current connection has been up (since welcome); 0 while the link is down.")
        messagesOut = Self.counter(registry, "serialbridge_link_sent_messages_total", "WebSocket messages sent (batches, chunks, heartbeats, reports).")
        bytesOut = Self.counter(registry, "serialbridge_link_sent_bytes_total", "WebSocket payload bytes sent, before compression.")
        messagesIn = Self.counter(registry, "serialbridge_link_received_messages_total", "WebSocket messages received.")
        bytesIn = Self.counter(registry, "serialbridge_link_received_bytes_total", "WebSocket payload bytes received, after decompression.")
        framesOut = Self.counter(registry, "serialbridge_link_sent_frames_total", "Readings and device events written to the link, resends included.")
        depth = Self.gauge(registry, "serialbridge_spool_frames", "Frames in the spool awaiting the server's acknowledgement (the queue depth).")
        unsent = Self.gauge(registry, "serialbridge_spool_unsent_frames", "Frames not yet sent on the current connection.")
        spoolBytes = Self.gauge(registry, "serialbridge_spool_bytes", "Bytes of the spool's segment files on disk.")
        oldestAge = Self.gauge(registry, "serialbridge_spool_oldest_unacknowledged_age_seconds", "Age of the oldest unacknowledged frame, by its timestamp; 0 when nothing waits.")
        dropped = Self.counter(registry, "serialbridge_spool_dropped_frames_total", "Frames the spool dropped or refused (quota, age, write errors) since it was created.")
    }

    mutating func update(link health: LinkHealth, uptime: Duration?) {
        for (state, gauge) in state { gauge.set(state == health.state ? 1.0 : 0.0) }
        if let last = health.lastRoundTrip, let mean = health.meanRoundTrip, let p99 = health.p99RoundTrip {
            let rtt = self.rtt ?? (
                Self.gauge(registry, "serialbridge_link_rtt_seconds", "Round-trip time of the last answered heartbeat."),
                Self.gauge(registry, "serialbridge_link_rtt_mean_seconds", "Mean round-trip time of the last 512 answered heartbeats."),
                Self.gauge(registry, "serialbridge_link_rtt_p99_seconds", "99th percentile round-trip time of the last 512 answered heartbeats.")
            )
            self.rtt = rtt
            rtt.last.set(Double(last) / 1000)
            rtt.mean.set(mean / 1000)
            rtt.p99.set(Double(p99) / 1000)
        }
        missedNow.set(Double(health.missedBeats))
        missedTotal.set(health.totalMissedBeats)
        for (cause, counter) in endings { counter.set(health.endings[cause] ?? 0) }
        for (code, count) in health.serverCloses {
            if closes[code] == nil {
                closes[code] = Self.counter(
                    registry, "serialbridge_link_server_closes_total",
                    "Close frames the server sent, by close code (see docs/PROTOCOL.md#close-codes).", [("code", "\(code)")]
                )
            }
            closes[code]?.set(count)
        }
        connections.set(health.connections)
        self.uptime.set(uptime.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 0)
        messagesOut.set(health.messagesOut)
        bytesOut.set(health.bytesOut)
        messagesIn.set(health.messagesIn)
        bytesIn.set(health.bytesIn)
        framesOut.set(health.framesOut)
    }

    mutating func update(queue: OutboundQueue.Snapshot, spool: SpoolStatus, now: Int64) {
        depth.set(Double(queue.depth))
        unsent.set(Double(queue.unsent))
        spoolBytes.set(Double(spool.bytes))
        oldestAge.set(spool.oldestUnacknowledgedTimestamp.map { Double(max(0, now - $0)) / 1000 } ?? 0)
        dropped.set(queue.dropped)
    }

    mutating func update(devices snapshot: [String: DeviceCounterBoard.Counts]) {
        for (device, counts) in snapshot {
            if devices[device] == nil { devices[device] = DeviceInstruments(registry: registry, device: device) }
            devices[device]?.update(counts, registry: registry)
        }
    }

    static func gauge(_ registry: PrometheusCollectorRegistry, _ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    static func counter(_ registry: PrometheusCollectorRegistry, _ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}

/// One device's metrics, labelled `device`; the streaming or polled set is made when first needed.
private struct DeviceInstruments {
    let device: String
    let open: Gauge
    let readings: Counter
    let checksumErrors: Counter
    let decodeErrors: Counter
    let outOfRange: Counter
    var streaming: [(KeyPath<DeviceCounterBoard.Counts, UInt64>, Counter)]?
    var polled: [(KeyPath<DeviceCounterBoard.Counts, UInt64>, Counter)]?

    init(registry: PrometheusCollectorRegistry, device: String) {
        self.device = device
        let label = [("device", device)]
        open = Instruments.gauge(registry, "serialbridge_device_port_open", "1 while a session has the device's port open.", label)
        readings = Instruments.counter(registry, "serialbridge_device_readings_total", "Readings the device produced.", label)
        checksumErrors = Instruments.counter(registry, "serialbridge_device_checksum_errors_total", "Frames that failed the profile's integrity check.", label)
        decodeErrors = Instruments.counter(registry, "serialbridge_device_decode_errors_total", "Frames that did not decode.", label)
        outOfRange = Instruments.counter(registry, "serialbridge_device_out_of_range_total", "Values outside the profile's valid range.", label)
    }

    mutating func update(_ counts: DeviceCounterBoard.Counts, registry: PrometheusCollectorRegistry) {
        open.set(counts.open ? 1.0 : 0.0)
        readings.set(counts.readings)
        checksumErrors.set(counts.checksumErrors)
        decodeErrors.set(counts.decodeErrors)
        outOfRange.set(counts.outOfRange)
        let label = [("device", device)]
        if counts.polled {
            if polled == nil {
                polled = [
                    (\.requests, Instruments.counter(registry, "serialbridge_device_requests_total", "Requests written to a polled device: polls, retries and commands.", label)),
                    (\.answers, Instruments.counter(registry, "serialbridge_device_answers_total", "Answers accepted from a polled device.", label)),
                    (\.timeouts, Instruments.counter(registry, "serialbridge_device_timeouts_total", "Requests a polled device did not answer in time.", label)),
                    (\.retries, Instruments.counter(registry, "serialbridge_device_retries_total", "Requests repeated after a timeout or a bad answer.", label)),
                    (\.exceptions, Instruments.counter(registry, "serialbridge_device_exceptions_total", "Modbus exception answers.", label)),
                    (\.failedCycles, Instruments.counter(registry, "serialbridge_device_failed_cycles_total", "Poll cycles that ended without a reading.", label)),
                ]
            }
            for (path, counter) in polled ?? [] { counter.set(counts[keyPath: path]) }
        } else {
            if streaming == nil {
                streaming = [
                    (\.bytes, Instruments.counter(registry, "serialbridge_device_bytes_total", "Bytes read from a streaming device's port.", label)),
                    (\.frames, Instruments.counter(registry, "serialbridge_device_frames_total", "Frames cut from those bytes.", label)),
                    (\.framingErrors, Instruments.counter(registry, "serialbridge_device_framing_errors_total", "Byte runs the framer rejected (oversize, garbage, bad length).", label)),
                    (\.resyncs, Instruments.counter(registry, "serialbridge_device_resyncs_total", "Times the framer lost sync and hunted for the next frame.", label)),
                    (\.reopens, Instruments.counter(registry, "serialbridge_device_reopens_total", "Times the port was reopened after the device went away.", label)),
                ]
            }
            for (path, counter) in streaming ?? [] { counter.set(counts[keyPath: path]) }
        }
    }
}

extension Counter {
    /// Sets the counter to a value read elsewhere (scrapes are serialised, so nobody sees the reset).
    fileprivate func set(_ value: some BinaryInteger) {
        reset()
        increment(by: Int64(clamping: value))
    }
}
