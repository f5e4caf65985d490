import SerialBridgeJSON
import SerialBridgeProtocol
import SerialBridgeSpool
import SerialBridgeSystemd
import SerialBridgeUplink

/// The running gateway at a glance, as `GET /status` serves it and `serialbridge status` prints
/// it: readiness and watchdog, link health, every device with its counters, the spool.
///
/// A snapshot of values the parts already keep (no part is asked to do anything); the JSON form
/// is documented in docs/OPERATIONS.md.
public struct GatewayStatus: Sendable {
    /// Gateway id.
    public var gateway: String
    /// Software version.
    public var version: String
    /// This run's epoch.
    public var epoch: Int64
    /// The gateway's process id.
    public var pid: Int64
    /// Whether start-up is complete (what READY=1 announced).
    public var ready: Bool
    /// The systemd watchdog's verdict; nil when no watchdog is asked for (`WATCHDOG_USEC` unset).
    public var watchdog: ServiceWatchdog.Verdict?
    /// The link.
    public var link: LinkHealth
    /// Every device's counters, by device id.
    public var devices: [String: DeviceCounterBoard.Counts]
    /// The outbound queue's marks.
    public var queue: OutboundQueue.Snapshot
    /// The spool's files.
    public var spool: SpoolStatus
    /// When this snapshot was taken (ms since 1970).
    public var takenAt: Int64

    /// One JSON object.
    public var json: [UInt8] {
        var writer = JSONWriter(capacity: 1024 + devices.count * 320)
        writer.beginObject()
        writer.key("gateway"); writer.string(gateway)
        writer.key("version"); writer.string(version)
        writer.key("epoch"); writer.integer(epoch)
        writer.key("pid"); writer.integer(pid)
        writer.key("ready"); writer.bool(ready)
        writer.key("takenAt"); writer.integer(takenAt)
        writer.key("watchdog")
        switch watchdog {
        case nil: writer.null()
        case .healthy?:
            writer.beginObject()
            writer.key("healthy"); writer.bool(true)
            writer.key("stalled"); writer.beginArray(); writer.endArray()
            writer.endObject()
        case .withheld(let parts)?:
            writer.beginObject()
            writer.key("healthy"); writer.bool(false)
            writer.key("stalled"); writer.beginArray()
            for part in parts { writer.string(part) }
            writer.endArray()
            writer.endObject()
        }
        writeLink(&writer)
        writer.key("devices"); writer.beginArray()
        for (device, counts) in devices.sorted(by: { $0.key < $1.key }) { Self.write(device: device, counts, into: &writer) }
        writer.endArray()
        writer.key("spool"); writer.beginObject()
        writer.key("depth"); writer.integer(Int64(queue.depth))
        writer.key("unsent"); writer.integer(Int64(queue.unsent))
        writer.key("oldestAgeMs")
        if let age = spool.oldestAge(now: takenAt) { writer.integer(age) } else { writer.null() }
        writer.key("dropped"); writer.integer(Int64(clamping: queue.dropped))
        writer.key("bytes"); writer.integer(Int64(spool.bytes))
        writer.key("segments"); writer.integer(Int64(spool.segments))
        writer.key("acknowledged"); Self.write(queue.acknowledged, into: &writer)
        writer.key("committed"); Self.write(queue.committed, into: &writer)
        writer.endObject()
        writer.endObject()
        return writer.bytes + [0x0A]
    }

    private func writeLink(_ writer: inout JSONWriter) {
        writer.key("link"); writer.beginObject()
        writer.key("state"); writer.string(link.state.rawValue)
        writer.key("server"); writer.string(link.server)
        writer.key("upSince")
        if let since = link.upSince { writer.integer(since) } else { writer.null() }
        writer.key("rttMs")
        if let last = link.lastRoundTrip, let mean = link.meanRoundTrip, let p99 = link.p99RoundTrip {
            writer.beginObject()
            writer.key("last"); writer.integer(last)
            writer.key("mean"); writer.float(mean)
            writer.key("p99"); writer.integer(p99)
            writer.endObject()
        } else {
            writer.null()
        }
        writer.key("connections"); writer.integer(Int64(link.connections))
        writer.key("reconnects"); writer.integer(Int64(link.reconnects))
        writer.key("reconnectsByCause"); writer.beginObject()
        for (cause, count) in link.endings.sorted(by: { $0.key < $1.key }) {
            writer.key(cause.rawValue); writer.integer(Int64(count))
        }
        writer.endObject()
        writer.key("lastCloseCode")
        if let code = link.lastCloseCode { writer.integer(Int64(code)) } else { writer.null() }
        writer.key("missedBeats"); writer.integer(Int64(link.missedBeats))
        writer.key("totalMissedBeats"); writer.integer(Int64(link.totalMissedBeats))
        writer.endObject()
    }

    private static func write(device: String, _ counts: DeviceCounterBoard.Counts, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id"); writer.string(device)
        writer.key("open"); writer.bool(counts.open)
        writer.key("kind"); writer.string(counts.polled ? "polled" : "streaming")
        writer.key("counters"); writer.beginObject()
        let shared: [(String, UInt64)] = [
            ("readings", counts.readings), ("checksumErrors", counts.checksumErrors), ("decodeErrors", counts.decodeErrors),
            ("outOfRange", counts.outOfRange),
        ]
        let own: [(String, UInt64)] = counts.polled
            ? [("requests", counts.requests), ("answers", counts.answers), ("timeouts", counts.timeouts), ("retries", counts.retries),
               ("exceptions", counts.exceptions), ("failedCycles", counts.failedCycles)]
            : [("bytes", counts.bytes), ("frames", counts.frames), ("framingErrors", counts.framingErrors), ("resyncs", counts.resyncs),
               ("reopens", counts.reopens)]
        for (name, value) in shared + own {
            writer.key(name); writer.integer(Int64(clamping: value))
        }
        writer.endObject()
        writer.endObject()
    }

    private static func write(_ id: ReadingID?, into writer: inout JSONWriter) {
        if let id { writer.string("\(id.epoch)/\(id.sequence)") } else { writer.null() }
    }
}

/// The `STATUS=` line the service manager shows (`systemctl status`): link, devices, spool, and
/// the watchdog's complaint if it has one. Pure, so its wording is tested directly.
enum ServiceStatusLine {
    static func text(
        link: Uplink.LinkState, server: String, devices: [String: DeviceCounterBoard.Counts], depth: Int,
        watchdog: ServiceWatchdog.Verdict?
    ) -> String {
        let attached = devices.values.filter(\.open).count
        let linkText = switch link {
        case .up: "link up to \(server)"
        case .connecting: "link connecting to \(server)"
        case .waiting: "link down, retrying \(server)"
        case .stopped: "link closed"
        }
        var line = "\(linkText); \(attached) of \(devices.count) device\(devices.count == 1 ? "" : "s") attached; spool \(depth) frame\(depth == 1 ? "" : "s") unacknowledged"
        if case .withheld(let parts)? = watchdog {
            line = "UNHEALTHY, watchdog withheld (\(parts.joined(separator: ", ")) stuck); " + line
        }
        return line
    }
}
