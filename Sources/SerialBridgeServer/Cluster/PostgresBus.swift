import Logging
import PostgresNIO
import SerialBridgeProtocol
import ServiceLifecycle
import Synchronization

/// Joins server instances through PostgreSQL (docs/DEPLOYMENT.md): live updates go out as NOTIFYs
/// on one channel, which every instance LISTENs to on a connection of its own that reconnects; each
/// instance renews a heartbeat row and records the gateways connected to it, so any instance can
/// say which gateways are online and where; commands and taps for a gateway on another instance
/// are NOTIFYs addressed to that instance, answered the same way.
///
/// A NOTIFY payload must stay under 8000 bytes: live updates are packed many to a payload up to
/// ``BusPacker/limit``, and a larger message goes through the `cluster_messages` table (its row id
/// is notified). NOTIFY is not durable: while this instance's listener reconnects, updates from
/// others are lost (dashboards catch up with the next ones); presence lives in tables and survives.
///
/// Run it as a service of the server's group, before the HTTP application, so that it stops last.
public final class PostgresBus: ClusterBus, Service {
    public var instanceID: String { options.instanceID }
    let options: ClusterOptions
    let feed: LiveFeed
    let registry: GatewayRegistry
    let logger: Logger
    /// Runs when this instance finds another's gateway gone with it (records the offline event).
    let onGatewayLost: @Sendable (_ gateway: String, _ at: Int64, _ reason: String) async -> Void
    let writer: PostgresLink
    let waiters = ReplyWaiters()
    private let outgoing = Mutex<[BusMessage.LiveItem]>([])
    private let outgoingSignal: AsyncStream<Void>.Continuation
    let outgoingSignalStream: AsyncStream<Void>
    let requestStream: AsyncStream<BusMessage.Envelope>
    /// Connects and disconnects of gateways here, written to `cluster_gateways` in order.
    let presenceStream: AsyncStream<PresenceChange>
    private let presenceContinuation: AsyncStream<PresenceChange>.Continuation
    private let requestContinuation: AsyncStream<BusMessage.Envelope>.Continuation
    /// Gateways connected here: connection token and when, to re-assert them at each heartbeat.
    private let held = Mutex<[String: (connection: Int, at: Int64)]>([:])
    /// Raw taps running here on behalf of other instances: (gateway, device) → the instance that
    /// asked, so that a tap ends when its instance goes away without stopping it.
    private let remoteTaps = Mutex<[RemoteTap: String]>([:])
    private let nextRequest = Atomic<Int>(0)
    private let listeningNow = Atomic<Bool>(false)
    private let listens = Atomic<Int>(0)
    private let droppedUpdates = Atomic<Int>(0)

    /// Live updates waiting to go out beyond this many are dropped, oldest first.
    static let maxQueued = 20_000

    /// A bus for this instance's `feed` and `registry`; nothing connects before ``run()``.
    public init(
        options: ClusterOptions, feed: LiveFeed, registry: GatewayRegistry, logger: Logger,
        onGatewayLost: @escaping @Sendable (_ gateway: String, _ at: Int64, _ reason: String) async -> Void = { _, _, _ in }
    ) {
        self.options = options
        self.feed = feed
        self.registry = registry
        var logger = logger
        logger[metadataKey: "instance"] = .string(options.instanceID)
        self.logger = logger
        self.onGatewayLost = onGatewayLost
        writer = PostgresLink(
            configuration: options.connection, name: "serialbridge-bus-\(options.instanceID)", logger: logger,
            prepare: { connection, logger in try await ClusterSchema.prepare(connection, logger: logger) }
        )
        (outgoingSignalStream, outgoingSignal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (requestStream, requestContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1_000))
        (presenceStream, presenceContinuation) = AsyncStream.makeStream()
    }

    /// True while the LISTEN connection is up (tests wait for it).
    public var isListening: Bool { listeningNow.load(ordering: .acquiring) }

    /// How many times a LISTEN was established (1 at start, one more per reconnect).
    public var listenCount: Int { listens.load(ordering: .acquiring) }

    /// Live updates dropped because the bus could not send them.
    public var dropped: Int { droppedUpdates.load(ordering: .relaxed) }

    // MARK: Service

    /// Listens, sends, beats and serves requests until graceful shutdown; then removes this
    /// instance's rows (its gateways were closed before) and closes the connections.
    public func run() async throws {
        logger.info("joining the cluster at \(options.displayURL) as instance \(instanceID)")
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.listen() }
                group.addTask { await self.sendQueued() }
                group.addTask { await self.beat() }
                group.addTask { await self.serveRequests() }
                group.addTask { await self.recordPresence() }
            }
        }
        waiters.cancelAll()
        do {
            _ = try await writer.query("DELETE FROM cluster_gateways WHERE instance = \(instanceID)")
            _ = try await writer.query("DELETE FROM cluster_instances WHERE id = \(instanceID)")
        } catch {
            logger.warning("cannot remove this instance from the cluster tables (it expires in \(options.expiry)): \(error)")
        }
        await writer.close()
        logger.info("left the cluster")
    }

    // MARK: ClusterBus

    public func publish(device: String?, _ message: @autoclosure () -> String) {
        let text = message()
        feed.publish(device: device, text)
        let overflow = outgoing.withLock { queue -> Int in
            queue.append(BusMessage.LiveItem(device: device, text: text))
            let excess = queue.count - Self.maxQueued
            if excess > 0 { queue.removeFirst(excess) }
            return max(excess, 0)
        }
        if overflow > 0 { droppedUpdates.add(overflow, ordering: .relaxed) }
        outgoingSignal.yield()
    }

    /// Records the connection and waits for its row to be written (so that the other instances
    /// can route to the gateway before it is welcomed), but at most ``presenceWait``: a slow or
    /// unreachable database never holds up a gateway's connect longer; the row follows then.
    public func gatewayConnected(_ gateway: String, connection: Int, at time: Int64) async {
        held.withLock { $0[gateway] = (connection, time) }
        let (written, done) = AsyncStream<Void>.makeStream()
        presenceContinuation.yield(.connected(gateway: gateway, connection: Int64(connection), at: time, written: done))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in written {} }
            group.addTask { try? await Task.sleep(for: Self.presenceWait) }
            await group.next()
            group.cancelAll()
        }
    }

    /// The longest a gateway's connect waits for its presence row.
    static let presenceWait: Duration = .seconds(2)

    public func gatewayDisconnected(_ gateway: String, connection: Int, at time: Int64) async {
        held.withLock { held in
            if held[gateway]?.connection == connection { held.removeValue(forKey: gateway) }
        }
        presenceContinuation.yield(.disconnected(gateway: gateway, connection: Int64(connection)))
    }

    public func gateways() async -> [GatewayRegistry.Status] {
        let local = registry.gateways.map { status in
            var status = status
            status.instance = status.online ? instanceID : nil
            return status
        }
        let remote: [RemoteGateway]
        do {
            remote = try await onlineElsewhere()
        } catch {
            logger.warning("cannot read which gateways other instances hold; answering with this instance's only: \(error)")
            return local
        }
        return RemoteGateway.merge(local: local, remote: remote)
    }

    public func send(command name: String, to device: String, on gateway: String, arguments: [String: Double], timeout: Duration) async -> CommandResultMessage {
        let request = makeRequestID()
        let owner: String
        switch await route(gateway) {
        case .here:
            return await registry.send(command: name, to: device, on: gateway, arguments: arguments, timeout: timeout)
        case .nowhere(let why):
            return GatewayRegistry.failed(request, device, why)
        case .instance(let instance):
            owner = instance
        }
        let envelope = BusMessage.Envelope(
            from: instanceID, to: owner,
            message: .command(
                request: request, gateway: gateway, command: CommandRequest(id: request, device: device, name: name, arguments: arguments),
                timeoutMs: Self.milliseconds(timeout)
            )
        )
        let answer = await waiters.request(request, timeout: timeout + options.routingMargin) { await self.trySend(envelope) }
        guard case .result(_, let result)? = answer else {
            return GatewayRegistry.failed(request, device, "instance \(owner), which holds gateway \"\(gateway)\", did not answer in time")
        }
        return result
    }

    public func tap(_ device: String, on gateway: String, start: Bool) async -> Bool {
        switch await route(gateway) {
        case .here:
            return await registry.tap(device, on: gateway, start: start)
        case .nowhere:
            return false
        case .instance(let owner):
            let request = makeRequestID()
            let envelope = BusMessage.Envelope(from: instanceID, to: owner, message: .tap(request: request, gateway: gateway, device: device, start: start))
            let answer = await waiters.request(request, timeout: options.routingMargin) { await self.trySend(envelope) }
            guard case .tapped(_, let ok)? = answer else { return false }
            return ok
        }
    }

    // MARK: State the loops share

    func setListening(_ on: Bool) {
        if on { listens.add(1, ordering: .releasing) }
        listeningNow.store(on, ordering: .releasing)
    }

    func enqueueRequest(_ envelope: BusMessage.Envelope) {
        requestContinuation.yield(envelope)
    }

    func takeQueued() -> [BusMessage.LiveItem] {
        outgoing.withLock { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
    }

    func noteDropped(_ count: Int) {
        droppedUpdates.add(count, ordering: .relaxed)
    }

    /// A tap on a device of a gateway connected here.
    struct RemoteTap: Hashable, Sendable {
        var gateway: String
        var device: String
    }

    func noteRemoteTap(_ tap: RemoteTap, for instance: String, on: Bool) {
        remoteTaps.withLock { taps in
            if on { taps[tap] = instance } else { taps.removeValue(forKey: tap) }
        }
    }

    func remoteTapRequesters() -> [RemoteTap: String] {
        remoteTaps.withLock { $0 }
    }

    func heldGateways() -> [(gateway: String, connection: Int64, at: Int64)] {
        held.withLock { $0.map { ($0.key, Int64($0.value.connection), $0.value.at) } }
    }

    /// A change of the gateways connected here.
    enum PresenceChange: Sendable {
        /// `written` is finished once the row is written (or the write failed).
        case connected(gateway: String, connection: Int64, at: Int64, written: AsyncStream<Void>.Continuation)
        case disconnected(gateway: String, connection: Int64)
        /// Make the rows match the gateways held now (each heartbeat asks for it).
        case reassert

        /// For logs.
        var summary: String {
            switch self {
            case .connected(let gateway, _, _, _): "gateway \(gateway) connected here"
            case .disconnected(let gateway, _): "gateway \(gateway) disconnected from here"
            case .reassert: "the gateways held here"
            }
        }
    }

    func requestReassert() {
        presenceContinuation.yield(.reassert)
    }

    // MARK: Routing

    private enum Route {
        case here
        case instance(String)
        case nowhere(String)
    }

    /// Where `gateway` is connected: here (the local registry has the final word), on another
    /// live instance, or nowhere.
    private func route(_ gateway: String) async -> Route {
        if registry.status(of: gateway)?.online == true { return .here }
        do {
            guard let owner = try await onlineElsewhere(only: gateway).first?.instance, owner != instanceID else {
                return .nowhere("gateway \"\(gateway)\" is not connected")
            }
            return .instance(owner)
        } catch {
            return .nowhere("gateway \"\(gateway)\" is not connected here, and the cluster database cannot say where: \(error)")
        }
    }

    /// Gateways held by live instances other than this one (all, or just `only`).
    private func onlineElsewhere(only gateway: String? = nil) async throws -> [RemoteGateway] {
        let rows = try await writer.query("""
            SELECT g.gateway, g.instance, g.connected_at FROM cluster_gateways g
            JOIN cluster_instances i ON i.id = g.instance
            WHERE i.heartbeat_at >= now() - make_interval(secs => \(Self.seconds(options.expiry)))
              AND g.instance <> \(instanceID) AND (\(gateway)::text IS NULL OR g.gateway = \(gateway))
            """)
        return try rows.map { row in
            let (gateway, instance, connectedAt) = try row.decode((String, String, Int64).self)
            return RemoteGateway(gateway: gateway, instance: instance, connectedAt: connectedAt)
        }
    }

    private func makeRequestID() -> String {
        "\(instanceID)-\(nextRequest.add(1, ordering: .relaxed).newValue)"
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(milliseconds(duration)) / 1_000
    }
}
