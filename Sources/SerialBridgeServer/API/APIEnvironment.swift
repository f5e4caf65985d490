import Logging
import SerialBridgeProtocol

/// What the HTTP API reads from and acts through.
public struct APIEnvironment: Sendable {
    /// Stored gateways, devices, history, events and commands.
    public var storage: any ServerStorage
    /// The gateways connected to this instance.
    public var registry: GatewayRegistry
    /// The gateways connected to any instance: online status, commands and taps go through it.
    public var bus: any ClusterBus
    /// What retention keeps: a time range older than the raw readings is answered from rollups.
    public var retention: RetentionPolicy
    /// The wall clock, ms since 1970 (default `to` of ranges, command times).
    public var now: @Sendable () -> Int64
    /// Where failed requests are logged.
    public var logger: Logger

    /// Creates an environment.
    public init(
        storage: any ServerStorage, registry: GatewayRegistry, retention: RetentionPolicy, logger: Logger,
        bus: (any ClusterBus)? = nil, now: @escaping @Sendable () -> Int64 = Timestamp.nowMilliseconds
    ) {
        self.storage = storage
        self.registry = registry
        // Without a bus only this instance's gateways exist; the feed is unused for reading.
        self.bus = bus ?? LocalBus(feed: LiveFeed(), registry: registry)
        self.retention = retention
        self.logger = logger
        self.now = now
    }

    /// The stored device at `address`, or a 404 that names it.
    func knownDevice(_ address: DeviceAddress) async throws -> DeviceSummary {
        guard let device = try await storage.device(gateway: address.gateway, device: address.device) else {
            throw APIError.notFound("no device \"\(address)\": it has sent no readings")
        }
        return device
    }

    /// Throws a 404 unless `gateway` is connected or has ever said hello.
    func requireKnownGateway(_ gateway: String) async throws {
        if registry.status(of: gateway) != nil { return }
        if await bus.gateways().contains(where: { $0.gateway == gateway }) { return }
        guard try await storage.gatewayStatus(gateway: gateway) != nil else {
            throw APIError.notFound("no gateway \"\(gateway)\"")
        }
    }
}
