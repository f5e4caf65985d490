import SerialBridgeProtocol

/// A gateway as the API shows it: the registry's live view (online, connection, link report)
/// joined with what storage keeps across restarts (its last hello, when it was last seen).
struct GatewayView: Sendable, Hashable {
    var id: String
    var online: Bool
    /// When its current (or last) connection came up; nil when it has not connected since the server started.
    var connectedAt: Int64?
    /// The later of its last hello or stored batch and its latest connection (server clock).
    var lastSeen: Int64?
    var stored: StoredGateway?
    var link: LinkReport?
    /// Devices that have sent readings.
    var devices: Int
    /// The server instance holding its connection (clustered servers only).
    var instance: String? = nil

    /// Every gateway either side knows, by id. `links` are stored link reports (PostgreSQL), shown
    /// for a gateway the cluster lists when newer than this instance's own (it is connected to
    /// another instance, or was here before).
    static func merge(
        live: [GatewayRegistry.Status], stored: [StoredGateway], devices: [DeviceSummary], links: [String: LinkReport] = [:]
    ) -> [GatewayView] {
        let liveByID = Dictionary(live.map { ($0.gateway, $0) }, uniquingKeysWith: { first, _ in first })
        let storedByID = Dictionary(stored.map { ($0.gateway, $0) }, uniquingKeysWith: { first, _ in first })
        var deviceCounts: [String: Int] = [:]
        for device in devices { deviceCounts[device.gateway, default: 0] += 1 }
        let ids = Set(liveByID.keys).union(storedByID.keys).sorted()
        return ids.map { id in
            let status = liveByID[id]
            let record = storedByID[id]
            let seen = [record?.lastSeen, status?.connectedAt].compactMap { $0 }.max()
            return GatewayView(
                id: id, online: status?.online ?? false, connectedAt: status?.connectedAt, lastSeen: seen,
                stored: record, link: newer(status?.link, status == nil ? nil : links[id]), devices: deviceCounts[id] ?? 0, instance: status?.instance
            )
        }
    }

    private static func newer(_ held: LinkReport?, _ stored: LinkReport?) -> LinkReport? {
        guard let held, let stored else { return held ?? stored }
        return stored.timestamp > held.timestamp ? stored : held
    }
}
