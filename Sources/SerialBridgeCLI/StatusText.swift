import SerialBridgeJSON

/// `serialbridge status` for people: the gateway's `/status` JSON as a few aligned lines.
///
/// Reads the JSON leniently (a missing field prints as "-"), so a CLI and a gateway of
/// neighbouring versions still get along.
enum StatusText {
    static func render(_ status: JSONNode, now: Int64) -> String {
        var lines: [String] = []
        let ready = status["ready"] == .bool(true) ? "ready" : "starting"
        lines.append("gateway    \(text(status["gateway"])) (version \(text(status["version"])), epoch \(text(status["epoch"])), pid \(text(status["pid"]))), \(ready)")
        lines.append("watchdog   \(watchdog(status["watchdog"]))")
        lines += link(status["link"] ?? .null, now: now)
        lines += devices(status["devices"] ?? .null)
        lines += spool(status["spool"] ?? .null)
        return lines.joined(separator: "\n") + "\n"
    }

    static func watchdog(_ node: JSONNode?) -> String {
        guard let node, node != .null else { return "off (the service manager asks for none: no WATCHDOG_USEC)" }
        if node["healthy"] == .bool(true) { return "healthy (WATCHDOG=1 sent)" }
        let stalled = strings(node["stalled"]).joined(separator: ", ")
        return "WITHHELD: \(stalled.isEmpty ? "-" : stalled) stuck"
    }

    static func link(_ link: JSONNode, now: Int64) -> [String] {
        var first = "link       \(text(link["state"])) \(text(link["server"]))"
        if case .integer(let since)? = link["upSince"] { first += " (up \(age(max(0, now - since))))" }
        var rtt = "rtt -"
        if let times = link["rttMs"], times != .null {
            rtt = "rtt \(text(times["last"])) ms (mean \(decimal(times["mean"])) ms, p99 \(text(times["p99"])) ms)"
        }
        var causes: [String] = []
        if case .object(let pairs)? = link["reconnectsByCause"] {
            causes = pairs.map { "\($0.0) \(text($0.1))" }
        }
        let reconnects = "\(text(link["reconnects"])) reconnects" + (causes.isEmpty ? "" : " (\(causes.joined(separator: ", ")))")
        let close = link["lastCloseCode"].flatMap { $0 == .null ? nil : "; last close \(text($0))" } ?? ""
        return [
            first,
            "           \(rtt); \(text(link["connections"])) connections, \(reconnects)\(close)",
            "           missed heartbeats: \(text(link["missedBeats"])) now, \(text(link["totalMissedBeats"])) in all",
        ]
    }

    static func devices(_ node: JSONNode) -> [String] {
        guard case .array(let devices) = node, !devices.isEmpty else { return ["devices    none"] }
        let open = devices.filter { $0["open"] == .bool(true) }.count
        var lines = ["devices    \(devices.count) (\(open) attached)"]
        let width = devices.map { text($0["id"]).count }.max() ?? 0
        for device in devices {
            let id = text(device["id"])
            let state = device["open"] == .bool(true) ? "attached" : "detached"
            var counters: [String] = []
            if case .object(let pairs)? = device["counters"] {
                counters = pairs.map { "\($0.0) \(text($0.1))" }
            }
            let padded = id + String(repeating: " ", count: max(0, width - id.count))
            lines.append("  \(padded)  \(state)  \(text(device["kind"]))  \(counters.joined(separator: ", "))")
        }
        return lines
    }

    static func spool(_ spool: JSONNode) -> [String] {
        let oldest: String
        if case .integer(let milliseconds)? = spool["oldestAgeMs"] { oldest = age(milliseconds) + " old" } else { oldest = "-" }
        return [
            "spool      \(text(spool["depth"])) frames unacknowledged (\(text(spool["unsent"])) not yet sent), oldest \(oldest), \(text(spool["dropped"])) dropped",
            "           \(text(spool["bytes"])) bytes in \(text(spool["segments"])) segment(s); acknowledged \(text(spool["acknowledged"])), committed \(text(spool["committed"]))",
        ]
    }

    /// A scalar as text; "-" for null or absent.
    static func text(_ node: JSONNode?) -> String {
        switch node {
        case .string(let value)?: value
        case .integer(let value)?: "\(value)"
        case .float(let value)?: decimal(.float(value))
        case .bool(let value)?: value ? "yes" : "no"
        default: "-"
        }
    }

    /// A number with one decimal.
    static func decimal(_ node: JSONNode?) -> String {
        switch node {
        case .float(let value)?:
            let tenths = Int64((value * 10).rounded())
            return "\(tenths / 10).\(abs(tenths % 10))"
        case .integer(let value)?: return "\(value)"
        default: return "-"
        }
    }

    static func strings(_ node: JSONNode?) -> [String] {
        guard case .array(let items)? = node else { return [] }
        return items.map { text($0) }
    }

    static func age(_ milliseconds: Int64) -> String {
        switch milliseconds {
        case ..<1_000: "\(milliseconds) ms"
        case ..<60_000: "\(milliseconds / 1000).\(milliseconds % 1000 / 100) s"
        case ..<3_600_000: "\(milliseconds / 60_000) min \(milliseconds % 60_000 / 1000) s"
        default: "\(milliseconds / 3_600_000) h \(milliseconds % 3_600_000 / 60_000) min"
        }
    }
}
