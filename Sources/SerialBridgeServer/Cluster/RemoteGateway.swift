/// A gateway connected to another instance, as the `cluster_gateways` table says.
struct RemoteGateway: Sendable, Hashable {
    var gateway: String
    var instance: String
    /// When that connection came up (that instance's clock), ms since 1970.
    var connectedAt: Int64

    /// This instance's view (`local`, every gateway it has seen) with the gateways online
    /// elsewhere: a gateway online on another instance is online there, unless this instance holds
    /// a newer connection of it (the two instances' rows raced). Sorted by gateway id.
    static func merge(local: [GatewayRegistry.Status], remote: [RemoteGateway]) -> [GatewayRegistry.Status] {
        var byID = Dictionary(local.map { ($0.gateway, $0) }, uniquingKeysWith: { first, _ in first })
        for row in remote {
            if let mine = byID[row.gateway], mine.online, mine.connectedAt >= row.connectedAt { continue }
            var status = byID[row.gateway] ?? GatewayRegistry.Status(gateway: row.gateway, online: true, connectedAt: row.connectedAt, lastSeen: row.connectedAt)
            status.online = true
            status.connectedAt = row.connectedAt
            status.lastSeen = max(status.lastSeen, row.connectedAt)
            status.disconnectedAt = nil
            status.disconnectReason = nil
            status.instance = row.instance
            byID[row.gateway] = status
        }
        return byID.values.sorted { $0.gateway < $1.gateway }
    }
}
