import SerialBridgeJSON
import SerialBridgeProfiles
import SerialBridgeUplink

/// Everything the gateway checks before it touches a device or the spool: the profiles load, the
/// token file reads, TLS and the proxy set up, and every configured device has a profile that
/// fits its port or bus. `run` refuses to start on any problem; `config check` reports the same.
///
/// Problems are located where possible, in the config's own terms: `FILE: JSON-PATH: message`
/// (`gateway.json: $.ports[1].profile: device "cellar": no profile named …`), `env: NAME: …` for a
/// value from the environment, and a profile file's errors in that file.
public struct GatewayPreflight: Sendable {
    /// The profiles found.
    public var library: ProfileLibrary
    /// The token, white space trimmed.
    var token: String
    /// TLS, proxy and compression, set up.
    var transport: UplinkTransport
    /// Every problem, in the order found.
    public var problems: [ConfigError]

    /// Runs every check on `config`.
    /// - Parameter environment: for the proxy variables (`https_proxy`, `no_proxy`…).
    public static func check(_ config: GatewayConfig, environment: (String) -> String?) -> GatewayPreflight {
        let file = config.file ?? "config"
        var problems: [ConfigError] = []
        func locate(_ variable: ConfigOverrides.Variable, _ path: String) -> (String, String) {
            config.overridden.contains(variable.name) ? ("env", variable.name) : (file, path)
        }

        // Configured folders must exist (missing defaults were already left out at load).
        var folders: [String] = []
        for (index, folder) in config.profileFolders.enumerated() {
            if ConfigDefaults.exists(folder) {
                folders.append(folder)
            } else {
                let (origin, path) = locate(ConfigOverrides.profileFolders, "$.profileFolders[\(index)]")
                problems.append(ConfigError(file: origin, path: path, message: "no such file or folder: \(folder)"))
            }
        }
        var library = ProfileLibrary()
        do {
            library = try ProfileLibrary.load(paths: folders)
        } catch {
            problems.append(contentsOf: error.errors)
        }

        var token = ""
        let (tokenWhere, tokenPath) = locate(ConfigOverrides.tokenFile, "$.server.tokenFile")
        do {
            token = String(decoding: try FileContents.read(config.tokenFile), as: UTF8.self).trimmingCharacters(in: " \n\r\t")
            if token.isEmpty { problems.append(ConfigError(file: tokenWhere, path: tokenPath, message: "the token file \(config.tokenFile) is empty")) }
        } catch {
            problems.append(ConfigError(file: tokenWhere, path: tokenPath, message: "cannot read token file \(config.tokenFile): \(error)"))
        }

        if ConfigDefaults.exists(config.stateDirectory), !ConfigDefaults.isDirectory(config.stateDirectory) {
            let (origin, path) = locate(ConfigOverrides.stateDirectory, "$.stateDirectory")
            problems.append(ConfigError(file: origin, path: path, message: "\(config.stateDirectory) is not a folder"))
        }

        var transport = UplinkTransport(compression: config.uplink.compression, setupTimeout: config.connectTimeout)
        transport.eventLoopGroup = DeviceSession.uplinkLoop
        do {
            transport.tls = try config.uplink.tls.map { settings throws(UplinkTLSSetupError) in try UplinkTLS(settings) }
        } catch {
            problems.append(ConfigError(file: file, path: "$.server.tls", message: "\(error)"))
        }
        do {
            transport.proxy = try config.uplink.proxy.resolve(for: config.serverURL, environment: environment)
        } catch {
            problems.append(ConfigError(file: file, path: "$.server.proxy", message: "proxy for \(config.serverURL): \(error)"))
        }

        // Bindings only make sense once the profiles loaded; otherwise every device of a broken
        // profile would be reported twice.
        if problems.isEmpty {
            let paths = devicePaths(config)
            for problem in SessionPlan.plans(config: config, library: library).problems {
                let path = paths[problem.device].map { entry in problem.key.map { "\(entry).\($0)" } ?? entry } ?? "$"
                problems.append(ConfigError(file: file, path: path, message: problem.description))
            }
        }
        return GatewayPreflight(library: library, token: token, transport: transport, problems: problems)
    }

    /// Each configured device's JSON path: `$.ports[i]` or `$.buses[j].devices[k]` (a loaded
    /// config keeps the file's order, since any mistake fails the load).
    static func devicePaths(_ config: GatewayConfig) -> [String: String] {
        var paths: [String: String] = [:]
        for (index, port) in config.ports.enumerated() { paths[port.device] = "$.ports[\(index)]" }
        for (busIndex, bus) in config.buses.enumerated() {
            for (index, member) in bus.devices.enumerated() { paths[member.device] = "$.buses[\(busIndex)].devices[\(index)]" }
        }
        return paths
    }
}
