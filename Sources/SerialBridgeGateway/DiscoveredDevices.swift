import Logging
import SerialBridgeDevices
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeUplink
import ServiceLifecycle
import Synchronization

/// Sessions for the devices udev reports and a profile claims: enumerated at start, then followed
/// through hot-plug events. One watcher for all devices; one task per running session.
struct DiscoveredDevices: Service {
    let profiles: [DeviceProfile]
    let staticPaths: Set<String>
    let format: WireFormat
    /// ``DeviceSession/readInterval`` of the sessions it starts.
    var readInterval: Duration = DeviceSession.defaultReadInterval
    let queue: OutboundQueue
    let tap: RawTap
    let counters: DeviceCounterBoard
    let logger: Logger
    /// Called once, when the sessions of the devices present at start have been started (or
    /// discovery failed): the gateway's readiness waits for it.
    var enumerated: @Sendable () -> Void = {}

    func run() async throws {
        let progress = EnumerationProgress(logger: logger, done: enumerated)
        let watcher = DeviceWatcher(onEnumerated: { progress.expect($0) })
        logger.info("device discovery: \(watcher.source.rawValue) monitor source\(watcher.source == .kernel ? " (no systemd-udevd; USB properties derived from sysfs)" : "")")
        // Session tasks are children of this service's task in effect: they are cancelled with it and
        // awaited before it returns, so none outlives the gateway.
        let sessions = await cancelWhenGracefulShutdown { await follow(watcher, progress: progress) }
        progress.finish()
        for task in sessions.values {
            task.cancel()
            await task.value
        }
    }

    /// Applies the director's decisions until the watcher ends (cancellation); returns the sessions
    /// still running.
    private func follow(_ watcher: DeviceWatcher, progress: EnumerationProgress) async -> [String: Task<Void, Never>] {
        let byName = Dictionary(profiles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var director = DeviceDirector(profiles: profiles, staticPaths: staticPaths)
        var sessions: [String: Task<Void, Never>] = [:]
        do {
            for try await event in watcher {
                for action in director.handle(event) {
                    switch action {
                    case .start(let device, let path, let profileName):
                        guard let profile = byName[profileName] else { continue }
                        logger.info("discovered \(path) as \(device), profile \(profileName)", metadata: ["device": .string(device)])
                        if profile.polling != nil || !profile.commands.isEmpty {
                            let bus = BusSession(path: path, members: [.init(device: device, profile: profile, format: format)], queue: queue, tap: tap, counters: counters, logger: logger)
                            sessions[device] = Task { await bus.run() }
                        } else {
                            let session = DeviceSession(
                                device: device, path: path, profile: profile, format: format, queue: queue, tap: tap, counters: counters,
                                readInterval: readInterval, logger: logger
                            )
                            sessions[device] = Task { await session.run() }
                        }
                    case .stop(let device):
                        logger.info("device \(device) removed", metadata: ["device": .string(device)])
                        sessions.removeValue(forKey: device)?.cancel()
                    case .note(let text):
                        logger.notice("\(text)")
                    }
                }
                progress.handled()
            }
        } catch {
            logger.error("device discovery stopped: \(error)")
            progress.finish()
        }
        return sessions
    }
}

/// Tells when the enumeration's events have been handled: the watcher says how many there are
/// (on its queue), the follower counts those it handled (in its task); whichever comes second
/// completes it. ``finish()`` completes it regardless (discovery failed or stopped).
final class EnumerationProgress: Sendable {
    private let state = Mutex((expected: Int?.none, handled: 0, fired: false))
    private let logger: Logger
    private let done: @Sendable () -> Void

    init(logger: Logger, done: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.done = done
    }

    func expect(_ count: Int) {
        update { $0.expected = count }
    }

    func handled() {
        update { $0.handled += 1 }
    }

    func finish() {
        update { $0.expected = min($0.expected ?? 0, $0.handled) }
    }

    private func update(_ change: (inout (expected: Int?, handled: Int, fired: Bool)) -> Void) {
        let fire = state.withLock { state -> Int? in
            change(&state)
            guard !state.fired, let expected = state.expected, state.handled >= expected else { return nil }
            state.fired = true
            return expected
        }
        guard let count = fire else { return }
        logger.info("device discovery: \(count) present device(s) enumerated")
        done()
    }
}
