import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeSerial

/// What should run on one configured port: a streaming device session, or a bus session for
/// polled devices (one device or several). A pure value computed from the config and the loaded
/// profiles, so a reload can tell, port by port, what changed.
struct SessionPlan: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// A device that talks on its own.
        case stream(device: String, profile: String, format: WireFormat)
        /// Devices that are polled or commanded, with their Modbus unit ids.
        case bus(members: [GatewayConfig.Bus.Member], serial: SerialSettings?)
    }

    /// The port path: one session per path.
    var path: String
    var kind: Kind
    /// Digests of the profiles used, in member order: a changed profile changes the plan.
    var digests: [UInt64]

    /// Why a configured device cannot run; printed as before (`device "x": …`, `bus PATH: …`),
    /// and carrying the device so that `config check` can point at its JSON path.
    struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The device the problem is about.
        var device: String
        /// The key of the device's config entry at fault, if one is (`profile`).
        var key: String? = nil
        /// The whole message, naming the device (and the bus).
        var description: String
    }

    /// The plans for every configured port and bus, or the problems that stop them.
    static func plans(config: GatewayConfig, library: ProfileLibrary) -> (plans: [SessionPlan], problems: [Problem]) {
        var plans: [SessionPlan] = []
        var problems: [Problem] = []
        let known = library.profiles.keys.sorted().joined(separator: ", ")
        func profile(_ name: String, for device: String) -> DeviceProfile? {
            if let profile = library.profiles[name] { return profile }
            problems.append(Problem(device: device, key: "profile", description: "device \"\(device)\": no profile named \"\(name)\" (loaded: \(known.isEmpty ? "none" : known))"))
            return nil
        }
        for port in config.ports {
            guard let loaded = profile(port.profile, for: port.device) else { continue }
            let format = port.encoding ?? config.encoding
            if loaded.polling != nil || !loaded.commands.isEmpty {
                let member = GatewayConfig.Bus.Member(device: port.device, profile: port.profile, unitId: nil, encoding: format)
                plans.append(SessionPlan(path: port.path, kind: .bus(members: [member], serial: nil), digests: [loaded.digest]))
            } else {
                plans.append(SessionPlan(path: port.path, kind: .stream(device: port.device, profile: port.profile, format: format), digests: [loaded.digest]))
            }
        }
        for bus in config.buses {
            let loaded = bus.devices.map { profile($0.profile, for: $0.device) }
            let profiles = loaded.compactMap { $0 }
            guard profiles.count == loaded.count, let first = profiles.first else { continue }
            var fine = true
            for (member, profile) in zip(bus.devices, profiles) {
                if profile.polling == nil, profile.commands.isEmpty {
                    problems.append(Problem(device: member.device, description: "bus \(bus.path): device \"\(member.device)\": profile \(profile.name) is neither polled nor commanded; a device that talks on its own needs a port of its own"))
                    fine = false
                }
                if type(of: profile.parsing.framing).type != type(of: first.parsing.framing).type {
                    problems.append(Problem(device: member.device, description: "bus \(bus.path): device \"\(member.device)\": profile \(profile.name) frames with \"\(type(of: profile.parsing.framing).type)\", but \(first.name) with \"\(type(of: first.parsing.framing).type)\"; one line has one framing"))
                    fine = false
                }
                if bus.serial == nil, profile.serial != first.serial {
                    problems.append(Problem(device: member.device, description: "bus \(bus.path): device \"\(member.device)\": profile \(profile.name) opens the line at \(profile.serial), \(first.name) at \(first.serial); set the bus's \"serial\""))
                    fine = false
                }
            }
            if fine {
                let members = bus.devices.map { member in
                    var resolved = member
                    resolved.encoding = member.encoding ?? config.encoding
                    return resolved
                }
                plans.append(SessionPlan(path: bus.path, kind: .bus(members: members, serial: bus.serial), digests: profiles.map(\.digest)))
            }
        }
        return (plans, problems)
    }

    /// The device ids this plan runs.
    var devices: [String] {
        switch kind {
        case .stream(let device, _, _): [device]
        case .bus(let members, _): members.map(\.device)
        }
    }
}
