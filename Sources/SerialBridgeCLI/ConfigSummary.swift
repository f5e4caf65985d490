import SerialBridgeGateway
import SerialBridgeProfiles
import SerialBridgeSpool

#if canImport(Glibc)
import Glibc
#endif

/// The few lines `config check` prints for a good config: what the gateway would run with, after
/// the environment's overrides and the defaults.
enum ConfigSummary {
    static func text(_ config: GatewayConfig, profiles: ProfileLibrary) -> String {
        var lines: [(String, String)] = []
        lines.append(("config", "\(config.file ?? "-"): OK"))
        lines.append(("gateway id", config.gatewayId))
        let fallbacks = config.fallbackURLs.isEmpty ? "" : " (then \(config.fallbackURLs.map { "\($0)" }.joined(separator: ", ")))"
        lines.append(("server", "\(config.serverURL)\(fallbacks)"))
        lines.append(("token file", config.tokenFile))
        let origin = switch config.profileFoldersOrigin {
        case .file: ""
        case .environment: " (from SERIALBRIDGE_PROFILE_FOLDERS)"
        case .defaults: " (defaults)"
        }
        let folders = config.profileFolders.isEmpty ? "none" : config.profileFolders.joined(separator: ", ")
        lines.append(("profiles", "\(profiles.profiles.count) from \(folders)\(origin)"))
        let ports = config.ports.map { port in
            "\(port.device) \(port.path) (\(port.profile))\(present(port.path) ? "" : " [not present now]")"
        }
        lines.append(("ports", ports.isEmpty ? "none" : "\(ports.count): " + ports.joined(separator: "; ")))
        let buses = config.buses.map { bus in
            let members = bus.devices.map { member in
                "\(member.device) (\(member.profile)\(member.unitId.map { ", unit \($0)" } ?? ""))"
            }
            return "\(bus.path)\(present(bus.path) ? "" : " [not present now]"): " + members.joined(separator: ", ")
        }
        lines.append(("buses", buses.isEmpty ? "none" : "\(buses.count): " + buses.joined(separator: "; ")))
        lines.append(("discovery", config.discovery ? "on (devices a profile's match rule claims)" : "off"))
        let spool = config.spool
        let age = spool.maxAgeSeconds.map { ", max age \($0) s" } ?? ""
        lines.append(("spool", "\(config.stateDirectory)/spool, max \(spool.maxBytes) bytes\(age), when full \(spool.whenFull.rawValue)"))
        lines.append(("metrics", config.metricsListen.map { "http://\($0)/metrics" } ?? "off"))
        lines.append(("logging", "\(config.logLevel), \(config.logFormat.rawValue)"))
        if !config.overridden.isEmpty { lines.append(("environment", "overrides from " + config.overridden.joined(separator: ", "))) }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { name, value in
            name + ":" + String(repeating: " ", count: width - name.count + 1) + value + "\n"
        }.joined()
    }

    /// Whether a device path exists now; a missing one is no error (the gateway waits for it).
    static func present(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }
}
