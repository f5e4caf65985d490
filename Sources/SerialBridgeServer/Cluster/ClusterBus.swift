import SerialBridgeProtocol

/// What makes several server instances behave as one (docs/DEPLOYMENT.md): live updates reach
/// dashboards on every instance, each instance knows which gateways are online anywhere, and a
/// command or raw tap for a gateway connected to another instance is carried there and its answer
/// back.
///
/// ``LocalBus`` is the single-instance bus (no database, today's in-process behaviour);
/// ``PostgresBus`` joins instances through PostgreSQL LISTEN/NOTIFY and two small tables.
public protocol ClusterBus: Sendable {
    /// This instance's id, unique in the cluster.
    var instanceID: String { get }

    /// Sends an update to the dashboards of every instance, this one's at once. `device`
    /// (`GATEWAY:DEVICE`) picks who receives it, as in ``LiveFeed/publish(device:_:)``; nil means
    /// every dashboard. Never waits: updates for other instances are queued and may be lost if the
    /// bus is down (dashboards catch up with the next update).
    func publish(device: String?, _ message: @autoclosure () -> String)

    /// Notes that `gateway` connected to this instance (`connection` is the registry's token).
    func gatewayConnected(_ gateway: String, connection: Int, at time: Int64) async

    /// Notes that this instance's connection `connection` of `gateway` ended.
    func gatewayDisconnected(_ gateway: String, connection: Int, at time: Int64) async

    /// Every gateway that connected to this instance since it started, and every gateway online on
    /// another live instance now. A gateway online anywhere shows as online, with the instance
    /// that holds it.
    func gateways() async -> [GatewayRegistry.Status]

    /// Sends a command to `gateway` wherever it is connected and waits for its result (or
    /// `timeout`); never throws: a failure is a `failed` result that says why.
    func send(command name: String, to device: String, on gateway: String, arguments: [String: Double], timeout: Duration) async -> CommandResultMessage

    /// Starts or stops a raw tap on `gateway` wherever it is connected; false when it is connected
    /// nowhere (or its instance did not answer).
    func tap(_ device: String, on gateway: String, start: Bool) async -> Bool
}
