import Logging
import SerialBridgeDevices
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeUplink
import ServiceLifecycle

/// Sessions for the devices udev reports and a profile claims: enumerated at start, then followed
/// through hot-plug events. One watcher for all devices; one task per running session.
struct DiscoveredDevices: Service {
    let profiles: [DeviceProfile]
    let staticPaths: Set<String>
    let format: WireFormat
    let queue: OutboundQueue
    let tap: RawTap
    let counters: DeviceCounterBoard
    let logger: Logger

    func run() async throws {
        let watcher = DeviceWatcher()
        logger.info("device discovery: \(watcher.source.rawValue) monitor source\(watcher.source == .kernel ? " (no systemd-udevd; USB properties derived from sysfs)" : "")")
        // Session tasks are children of this service's task in effect: they are cancelled with it and
        // awaited before it returns, so none outlives the gateway.
        let sessions = await cancelWhenGracefulShutdown { await follow(watcher) }
        for task in sessions.values {
            task.cancel()
            await task.value
        }
    }

    /// Applies the director's decisions until the watcher ends (cancellation); returns the sessions
    /// still running.
    private func follow(_ watcher: DeviceWatcher) async -> [String: Task<Void, Never>] {
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
                            let session = DeviceSession(device: device, path: path, profile: profile, format: format, queue: queue, tap: tap, counters: counters, logger: logger)
                            sessions[device] = Task { await session.run() }
                        }
                    case .stop(let device):
                        logger.info("device \(device) removed", metadata: ["device": .string(device)])
                        sessions.removeValue(forKey: device)?.cancel()
                    case .note(let text):
                        logger.notice("\(text)")
                    }
                }
            }
        } catch {
            logger.error("device discovery stopped: \(error)")
        }
        return sessions
    }
}
