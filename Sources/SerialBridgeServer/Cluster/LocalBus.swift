import SerialBridgeProtocol

/// One server on its own: updates go to this instance's dashboards, and commands and taps to the
/// gateways connected here. The default; needs no database.
public struct LocalBus: ClusterBus {
    /// Always `local`.
    public let instanceID = "local"
    let feed: LiveFeed
    let registry: GatewayRegistry

    /// A bus over this instance's feed and registry.
    public init(feed: LiveFeed, registry: GatewayRegistry) {
        self.feed = feed
        self.registry = registry
    }

    public func publish(device: String?, _ message: @autoclosure () -> String) {
        feed.publish(device: device, message())
    }

    public func gatewayConnected(_ gateway: String, connection: Int, at time: Int64) async {}

    public func gatewayDisconnected(_ gateway: String, connection: Int, at time: Int64) async {}

    public func gateways() async -> [GatewayRegistry.Status] {
        registry.gateways
    }

    public func send(command name: String, to device: String, on gateway: String, arguments: [String: Double], timeout: Duration) async -> CommandResultMessage {
        await registry.send(command: name, to: device, on: gateway, arguments: arguments, timeout: timeout)
    }

    public func tap(_ device: String, on gateway: String, start: Bool) async -> Bool {
        await registry.tap(device, on: gateway, start: start)
    }
}
