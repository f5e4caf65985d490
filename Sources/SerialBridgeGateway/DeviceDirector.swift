import SerialBridgeDevices
import SerialBridgeProfiles

/// Decides, from the device watcher's events, which device sessions run: a pure value, so the
/// rules are tested without hardware (sans-IO, like the framers).
///
/// A device gets a session when a profile's match rule claims it; its session is keyed by the
/// device's stable id, so a renumbered node (ttyUSB0 → ttyUSB1) is the same device. Ports the config
/// binds statically are left to their static sessions.
public struct DeviceDirector: Sendable {
    /// What to do.
    public enum Action: Sendable, Equatable {
        /// Start a session for a device.
        case start(device: String, path: String, profile: String)
        /// Stop the device's session (it was removed, or moved).
        case stop(device: String)
        /// Tell the operator something (why a device has no profile).
        case note(String)
    }

    private let profiles: [DeviceProfile]
    private let staticPaths: Set<String>
    /// Running sessions: stable id → device node.
    public private(set) var running: [String: String] = [:]

    /// Creates a director for these profiles; `staticPaths` are the configured ports (and their
    /// resolved targets), which discovery never touches.
    public init(profiles: [DeviceProfile], staticPaths: Set<String>) {
        self.profiles = profiles
        self.staticPaths = staticPaths
    }

    /// The actions for one watcher event.
    public mutating func handle(_ event: DeviceEvent) -> [Action] {
        let info = event.device
        switch event {
        case .added(let device), .changed(let device):
            if info.paths.contains(where: staticPaths.contains) { return [] }
            var actions: [Action] = []
            if let node = running[device.stableID] {
                if node == device.devnode { return [] }
                // Same device, new node: restart its session on the new path.
                actions.append(.stop(device: device.stableID))
                running[device.stableID] = nil
            }
            switch ProfileMatcher.match(device.candidate, profiles: profiles) {
            case .matched(let profile):
                running[device.stableID] = device.devnode
                actions.append(.start(device: device.stableID, path: device.devnode, profile: profile.name))
            case .unmatched(let reasons):
                if case .added = event {
                    let why = reasons.isEmpty ? "no profile has a match rule" : reasons.joined(separator: "; ")
                    actions.append(.note("\(device.devnode) (\(device.stableID)): no profile matches: \(why)"))
                }
            case .ambiguous(let names):
                actions.append(.note("\(device.devnode) (\(device.stableID)): profiles \(names.joined(separator: ", ")) match with the same priority; raise one's priority"))
            }
            return actions
        case .removed(let device):
            guard running.removeValue(forKey: device.stableID) != nil else { return [] }
            return [.stop(device: device.stableID)]
        }
    }
}
