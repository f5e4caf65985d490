import Logging
import SerialBridgeJSON
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeSpool
import SerialBridgeSystemd
import SerialBridgeUplink
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// The gateway, composed: epoch, profiles, device sessions and the uplink, run as a service group.
///
/// Shutdown order is explicit: device sessions stop first (no new readings), then the uplink
/// drains what is queued and closes the link.
public struct Gateway: Sendable {
    /// The software version reported in `hello`.
    public static let softwareVersion = "0.1.0"

    /// The loaded configuration.
    public let config: GatewayConfig
    /// This run's epoch.
    public let epoch: Int64
    /// Readings waiting for acknowledgement.
    public let queue: OutboundQueue
    /// The link to the server.
    public let uplink: Uplink
    /// Sessions of the configured ports and buses, reloaded on SIGHUP or profile changes.
    let supervisor: SessionSupervisor
    /// Raw traffic the server is watching.
    public let tap: RawTap
    /// Every loaded profile, for discovery.
    public let profiles: [DeviceProfile]
    /// Every device's counters, as its sessions publish them.
    public let deviceCounters: DeviceCounterBoard
    /// Link, spool and device metrics, served at `/metrics` (see ``metricsAddress``).
    public let metrics: GatewayMetrics
    /// The service manager's channel (`$NOTIFY_SOCKET`); a no-op when nothing listens.
    public let notifier: ServiceNotifier
    /// The systemd watchdog, when the service manager asks for one (`WATCHDOG_USEC`).
    public let watchdog: ServiceWatchdog?
    /// What must have started before READY=1.
    let startup: StartupGate
    /// The `STATUS=` line now.
    private let statusLine: @Sendable () -> String
    private let metricsBound = BoundAddress()
    private let logger: Logger

    /// Loads profiles and the token, advances the epoch, and builds every part.
    /// - Parameters:
    ///   - environment: looks up environment variables (`https_proxy`, `no_proxy`…); the
    ///     process's own by default.
    ///   - clock: the uplink's time (backoff, heartbeats, deadlines, connection age); tests pass
    ///     their own.
    ///   - watchdogClock: the systemd watchdog's ticks (every half `WATCHDOG_USEC`); tests pass
    ///     their own.
    /// - Throws: ``GatewayStartError`` with every problem found, so one start reports them all.
    public init(
        config: GatewayConfig, logger: Logger, environment: (String) -> String? = Gateway.processEnvironment,
        clock: UplinkClock = .continuous, watchdogClock: UplinkClock = .continuous
    ) throws(GatewayStartError) {
        let checked = GatewayPreflight.check(config, environment: environment)
        let library = checked.library
        let token = checked.token
        let transport = checked.transport
        let problems = checked.problems.map(\.description)
        guard problems.isEmpty else { throw GatewayStartError(problems: problems) }
        // The spool first (it may hold frames of later epochs than the epoch file says), then the
        // epoch, durably, before anything of this run is numbered.
        let spool: Spool
        let epoch: Int64
        do {
            spool = try Spool.open(directory: config.stateDirectory + "/spool", configuration: config.spool, logger: logger)
        } catch {
            throw GatewayStartError(problems: [error.description])
        }
        do {
            epoch = try EpochStore.advance(in: config.stateDirectory, above: spool.recovery.newestEpoch)
        } catch {
            spool.close()
            throw GatewayStartError(problems: [error.description])
        }
        self.config = config
        self.profiles = library.profiles.values.sorted { $0.name < $1.name }
        self.epoch = epoch
        self.logger = logger
        self.queue = OutboundQueue(gateway: config.gatewayId, epoch: epoch, spool: spool)
        self.uplink = Uplink(
            configuration: .init(
                url: config.serverURL, token: token, gateway: config.gatewayId,
                software: Self.softwareVersion, backoff: config.backoff,
                connectTimeout: config.connectTimeout, drainTimeout: config.drainTimeout,
                transport: transport, fallbackURLs: config.fallbackURLs, maxConnectionAge: config.maxConnectionAge,
                allowedMissedBeats: config.missedHeartbeats, linger: config.linger, clock: clock
            ),
            queue: queue, logger: logger
        )
        let tap = RawTap(uplink: uplink)
        self.tap = tap
        let deviceCounters = DeviceCounterBoard()
        self.deviceCounters = deviceCounters
        self.metrics = GatewayMetrics(
            gateway: config.gatewayId, version: Self.softwareVersion, epoch: epoch, uplink: uplink, queue: queue, devices: deviceCounters
        )
        let notifier = ServiceNotifier(environment: environment, logger: logger)
        self.notifier = notifier
        let watchdog = notifier.watchdogInterval.map { interval in
            ServiceWatchdog(
                notifier: notifier, interval: interval, checks: [EventLoopProbe().sample, deviceCounters.stepSamples],
                logger: logger, sleep: watchdogClock.sleep
            )
        }
        self.watchdog = watchdog
        var parts: Set<String> = ["sessions"]
        if config.discovery { parts.insert("discovery") }
        if config.metricsListen != nil { parts.insert("metrics") }
        let startup = StartupGate(parts: parts)
        self.startup = startup
        let (link, outbound) = (self.uplink, self.queue)
        let statusLine: @Sendable () -> String = {
            let health = link.health
            return ServiceStatusLine.text(
                link: health.state, server: health.server, devices: deviceCounters.snapshot, depth: outbound.snapshot.depth,
                watchdog: watchdog?.verdict
            )
        }
        self.statusLine = statusLine
        let hooks = SessionSupervisor.Hooks(
            started: { startup.done("sessions") },
            reloading: { reason in notifier.reloading(status: "reloading (\(reason))") },
            reloaded: { if startup.isOpen { notifier.ready(status: statusLine()) } }
        )
        let supervisor = SessionSupervisor(
            config: config, library: library, queue: queue, tap: tap, counters: deviceCounters, logger: logger, hooks: hooks
        )
        self.supervisor = supervisor
        if let proxy = transport.proxy { logger.info("the uplink tunnels through proxy \(proxy)") }
        uplink.setDownlink(
            commands: { request in
                let outcome: BusSession.CommandOutcome
                if let bus = supervisor.bus(for: request.device) {
                    outcome = await bus.send(command: request.name, to: request.device, arguments: request.arguments)
                } else {
                    outcome = .failed("no polled or commanded device \"\(request.device)\" on this gateway")
                }
                return Self.result(of: outcome, for: request)
            },
            taps: { device, start in
                tap.set(device, on: start)
                logger.info("raw tap \(start ? "started" : "stopped") for \(device)", metadata: ["device": .string(device)])
            }
        )
    }

    /// One variable of the process environment.
    public static func processEnvironment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The wire form of a command's outcome.
    static func result(of outcome: BusSession.CommandOutcome, for request: CommandRequest) -> CommandResultMessage {
        switch outcome {
        case .answered(let bytes): CommandResultMessage(id: request.id, device: request.device, status: .answered, response: bytes)
        case .sent: CommandResultMessage(id: request.id, device: request.device, status: .sent)
        case .exception(let code, let name):
            CommandResultMessage(id: request.id, device: request.device, status: .exception, exceptionCode: Int(code), message: name)
        case .timedOut(let attempts):
            CommandResultMessage(id: request.id, device: request.device, status: .timeout, message: "no answer after \(attempts) attempt\(attempts == 1 ? "" : "s")")
        case .failed(let why): CommandResultMessage(id: request.id, device: request.device, status: .failed, message: why)
        }
    }

    /// Sends a profile's named command to a configured device and waits for the outcome (the
    /// answer's bytes, an exception, a timeout, or why it could not be sent).
    public func send(command: String, to device: String, arguments: [String: Double] = [:]) async -> BusSession.CommandOutcome {
        if let bus = supervisor.bus(for: device) {
            return await bus.send(command: command, to: device, arguments: arguments)
        }
        if supervisor.streams(device) {
            return .failed("device \"\(device)\" runs a streaming profile without commands")
        }
        return .failed("no configured device \"\(device)\"")
    }

    /// Reloads profiles and bindings now (as SIGHUP does).
    public func reload() async {
        await supervisor.reload(reason: "requested")
    }

    /// How many times each configured port's session has started: a reload restarts only the
    /// sessions whose profile or binding changed.
    public var sessionStarts: [String: Int] { supervisor.starts }

    /// Where the metrics endpoint listens (port 0 resolved to the one bound), once it does; nil
    /// before, when it is off (`metrics.listen: null`) or could not listen.
    public var metricsAddress: MetricsListen? { metricsBound.address }

    /// Whether start-up is complete: what READY=1 announced.
    public var isReady: Bool { startup.isOpen }

    /// The gateway now: readiness, watchdog, link, devices, spool (`GET /status`).
    public func status() -> GatewayStatus {
        GatewayStatus(
            gateway: config.gatewayId, version: Self.softwareVersion, epoch: epoch, pid: Int64(getpid()), ready: startup.isOpen,
            watchdog: watchdog?.verdict, link: uplink.health, devices: deviceCounters.snapshot, queue: queue.snapshot,
            spool: queue.spool.status, takenAt: Timestamp.nowMilliseconds()
        )
    }

    /// The bus session of a configured device (polled or commanded), for status and tests.
    public func busSession(for device: String) -> BusSession? { supervisor.bus(for: device) }

    /// A service group running the gateway; `signals` trigger graceful shutdown.
    public func serviceGroup(signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        let devices = config.ports.count + config.buses.reduce(0) { $0 + $1.devices.count }
        logger.info("gateway \(config.gatewayId) starting: epoch \(epoch), \(devices) configured device(s), server \(config.serverURL)")
        // ServiceGroup stops services in reverse order: sessions first, then the uplink drains.
        var services: [any Service] = []
        // First of all, so it stops last: WATCHDOG=1 keeps going while the others drain.
        if let watchdog { services.append(watchdog) }
        let startup = self.startup
        if let listen = config.metricsListen {
            // Early, so it stops late: the drain can be watched.
            let gateway = self
            services.append(MetricsServer(
                listen: listen, metrics: metrics, uplink: uplink, bound: metricsBound, logger: logger,
                status: { gateway.status() }, started: { startup.done("metrics") }
            ))
        }
        services += [uplink, NetworkFollower(uplink: uplink, logger: logger), supervisor] as [any Service]
        if config.discovery {
            let paths = config.ports.map(\.path) + config.buses.map(\.path)
            let staticPaths = Set(paths.flatMap { [$0, Self.resolvedLink($0)] })
            services.append(DiscoveredDevices(
                profiles: profiles, staticPaths: staticPaths, format: config.encoding, readInterval: config.readInterval, queue: queue, tap: tap, counters: deviceCounters, logger: logger,
                enumerated: { startup.done("discovery") }
            ))
        }
        // Last, so they stop first: STOPPING=1 goes out before anything else stops.
        let outbound = self.queue
        services.append(ServiceNotifications(notifier: notifier, gate: startup, line: statusLine, logger: logger))
        services.append(ShutdownNotice(notifier: notifier) {
            let depth = outbound.snapshot.depth
            return "stopping: closing the link once \(depth) unacknowledged frame\(depth == 1 ? "" : "s") are acknowledged or the drain times out"
        })
        return ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: signals,
                logger: logger
            )
        )
    }
}

extension Gateway {
    /// Where a symlink such as `/dev/serial/by-id/…` points, so discovery leaves a statically
    /// bound device alone whichever name the config uses.
    static func resolvedLink(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// The gateway could not start; every problem found is listed.
public struct GatewayStartError: Error, Sendable, CustomStringConvertible {
    /// One line per problem.
    public var problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}
