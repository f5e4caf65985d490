import Logging
import SerialBridgeJSON
import SerialBridgeProfiles
import SerialBridgeUplink
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Runs a session per configured port and bus, and reloads profiles and bindings on SIGHUP or when
/// a profile file changes, restarting only the sessions whose plan changed.
///
/// A profile file that no longer loads keeps its previous version (its errors are logged as
/// `FILE: JSON-PATH: message`); a config file that no longer loads keeps the previous bindings.
final class SessionSupervisor: Service, Sendable {
    /// What the gateway hears of the supervisor's progress (readiness, the service manager).
    struct Hooks: Sendable {
        /// The configured ports' sessions have been started, once.
        var started: @Sendable () -> Void = {}
        /// A reload begins, for this reason.
        var reloading: @Sendable (String) -> Void = { _ in }
        /// The reload is done and its sessions started.
        var reloaded: @Sendable () -> Void = {}
    }

    private struct Running: Sendable {
        var plan: SessionPlan
        var task: Task<Void, Never>
        var bus: BusSession?
    }

    private struct State: Sendable {
        var config: GatewayConfig
        var library: ProfileLibrary
        var running: [String: Running] = [:]
        var starts: [String: Int] = [:]
        var reloads = 0
    }

    private let state: Mutex<State>
    private let queue: OutboundQueue
    private let tap: RawTap
    private let counters: DeviceCounterBoard
    private let logger: Logger
    private let watchInterval: Duration
    private let hooks: Hooks

    init(
        config: GatewayConfig, library: ProfileLibrary, queue: OutboundQueue, tap: RawTap, counters: DeviceCounterBoard,
        logger: Logger, watchInterval: Duration = .seconds(1), hooks: Hooks = Hooks()
    ) {
        self.hooks = hooks
        self.counters = counters
        self.state = Mutex(State(config: config, library: library))
        self.queue = queue
        self.tap = tap
        self.logger = logger
        self.watchInterval = watchInterval
    }

    /// How many times each port's session was started (a reload that keeps it does not count).
    var starts: [String: Int] { state.withLock { $0.starts } }
    /// Reloads done.
    var reloads: Int { state.withLock { $0.reloads } }

    /// The bus session running `device`, if any.
    func bus(for device: String) -> BusSession? {
        state.withLock { state in
            state.running.values.first { $0.plan.devices.contains(device) }?.bus
        }
    }

    /// Whether `device` runs in a streaming session.
    func streams(_ device: String) -> Bool {
        state.withLock { state in state.running.values.contains { $0.bus == nil && $0.plan.devices.contains(device) } }
    }

    func run() async throws {
        let (config, library) = state.withLock { ($0.config, $0.library) }
        await apply(SessionPlan.plans(config: config, library: library).plans)
        hooks.started()
        let (triggers, trigger) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    let signals = await UnixSignalsSequence(trapping: .sighup)
                    for await _ in signals { trigger.yield("SIGHUP") }
                }
                group.addTask { await self.watchProfiles(trigger) }
                for await reason in triggers {
                    await self.reload(reason: reason)
                }
                group.cancelAll()
            }
        }
        trigger.finish()
        let running = state.withLock { state -> [Running] in
            defer { state.running.removeAll() }
            return Array(state.running.values)
        }
        for session in running { session.task.cancel() }
        for session in running { await session.task.value }
    }

    /// Polls the profile folders' fingerprint; a change triggers a reload.
    private func watchProfiles(_ trigger: AsyncStream<String>.Continuation) async {
        var last = ProfileLibrary.fingerprint(paths: state.withLock { $0.config.profileFolders })
        while !Task.isCancelled {
            try? await Task.sleep(for: watchInterval)
            let current = ProfileLibrary.fingerprint(paths: state.withLock { $0.config.profileFolders })
            if current != last {
                last = current
                trigger.yield("profile folder changed")
            }
        }
    }

    /// Reloads the config's bindings and the profiles, then applies the new plans.
    func reload(reason: String) async {
        logger.info("reloading the config, profiles and bindings (\(reason))")
        hooks.reloading(reason)
        defer { hooks.reloaded() }
        let (loaded, previous) = state.withLock { ($0.config, $0.library) }
        var config = loaded
        if let file = config.file {
            do {
                let reload = ConfigReload(running: config, fresh: try config.reloaded())
                if !reload.applied.isEmpty {
                    logger.info("\(file): applying \(reload.applied.joined(separator: ", "))")
                }
                if !reload.needsRestart.isEmpty {
                    logger.warning("\(file): \(reload.needsRestart.joined(separator: ", ")) changed; that needs a restart, keeping the running values")
                }
                config = reload.config
            } catch {
                for problem in error.errors { logger.error("\(problem)") }
                logger.error("\(file) did not load; keeping the previous bindings")
            }
        }
        let (library, errors) = ProfileLibrary.reload(paths: config.profileFolders, previous: previous)
        for error in errors { logger.error("\(error)") }
        if !errors.isEmpty { logger.error("profiles with errors keep their previous version") }
        let (plans, problems) = SessionPlan.plans(config: config, library: library)
        for problem in problems { logger.error("\(problem)", metadata: ["device": .string(problem.device)]) }
        state.withLock {
            $0.config = config
            $0.library = library
        }
        await apply(plans)
        state.withLock { $0.reloads += 1 }
    }

    /// Stops the sessions whose plan is gone or changed, then starts the new ones.
    private func apply(_ plans: [SessionPlan]) async {
        let desired = Dictionary(plans.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let stopping = state.withLock { state -> [Running] in
            let paths = state.running.keys.filter { desired[$0] != state.running[$0]?.plan }
            return paths.compactMap { state.running.removeValue(forKey: $0) }
        }
        // Wait for each stopped session to close its port: the new one locks the same device.
        for session in stopping { session.task.cancel() }
        for session in stopping { await session.task.value }
        let library = state.withLock { $0.library }
        var started = 0
        for plan in plans where state.withLock({ $0.running[plan.path] == nil }) {
            guard let running = start(plan, library: library) else { continue }
            state.withLock {
                $0.running[plan.path] = running
                $0.starts[plan.path, default: 0] += 1
            }
            started += 1
        }
        if !stopping.isEmpty || started > 0 {
            logger.info("sessions: \(stopping.count) stopped, \(started) started, \(plans.count - started) unchanged")
        }
    }

    private func start(_ plan: SessionPlan, library: ProfileLibrary) -> Running? {
        switch plan.kind {
        case .stream(let device, let profileName, let format):
            guard let profile = library.profiles[profileName] else { return nil }
            let readInterval = state.withLock { $0.config.readInterval }
            let session = DeviceSession(
                device: device, path: plan.path, profile: profile, format: format, queue: queue, tap: tap, counters: counters,
                readInterval: readInterval, logger: logger
            )
            return Running(plan: plan, task: Task { await session.run() }, bus: nil)
        case .bus(let members, let serial):
            let resolved = members.compactMap { member in
                library.profiles[member.profile].map {
                    BusSession.Member(device: member.device, profile: $0, unit: member.unitId, format: member.encoding ?? .json)
                }
            }
            guard resolved.count == members.count else { return nil }
            let session = BusSession(path: plan.path, members: resolved, serial: serial, queue: queue, tap: tap, counters: counters, logger: logger)
            return Running(plan: plan, task: Task { await session.run() }, bus: session)
        }
    }
}
