import SerialBridgeJSON
import SerialBridgeLogging
import SerialBridgeProtocol
import SerialBridgeProfiles
import SerialBridgeSerial
import SerialBridgeSpool
import SerialBridgeUplink

/// The gateway's configuration file (docs/CONFIG.md). Relative paths are resolved against the
/// folder of the config file, so a config and its profiles can move together. Environment
/// variables (``ConfigOverrides``) override the file.
public struct GatewayConfig: Sendable {
    /// Where the gateway's config is looked for when no `--config` is given (the unit's
    /// `ConfigurationDirectory=serialbridge`).
    public static let defaultFile = "/etc/serialbridge/gateway.json"

    /// Where ``profileFolders`` came from.
    public enum ProfileFoldersOrigin: String, Sendable, Hashable {
        /// The file's `profileFolders`.
        case file
        /// `SERIALBRIDGE_PROFILE_FOLDERS`.
        case environment
        /// Neither: the installation's defaults that exist (``ConfigDefaults``).
        case defaults
    }

    /// A port named in the config and bound to a profile, with no udev matching needed.
    public struct StaticPort: Sendable, Hashable {
        /// Stable device id reported to the server.
        public var device: String
        /// Device path (absolute after loading), e.g. `/dev/ttyAMA0` or `/dev/serial/by-id/...`.
        public var path: String
        /// Profile name.
        public var profile: String
        /// Wire encoding of its readings (nil: the config's `encoding`).
        public var encoding: WireFormat? = nil
    }

    /// A serial line shared by several polled devices (RS-485), each with its profile and unit id.
    public struct Bus: Sendable, Hashable {
        /// A device on the bus.
        public struct Member: Sendable, Hashable {
            /// Stable device id reported to the server.
            public var device: String
            /// Profile name.
            public var profile: String
            /// Modbus unit id (nil: the profile's `modbus.unitId`).
            public var unitId: Int?
            /// Wire encoding of its readings (nil: the config's `encoding`).
            public var encoding: WireFormat? = nil
        }

        /// Device path (absolute after loading).
        public var path: String
        /// Line settings for the whole bus (nil: the first device's profile settings).
        public var serial: SerialSettings?
        /// The devices, in config order.
        public var devices: [Member]
    }

    /// The file this config was loaded from (re-read on reload), if any.
    public var file: String?
    /// Gateway id, as the server's token file knows it.
    public var gatewayId: String
    /// Server WebSocket URL.
    public var serverURL: ServerURL
    /// Further server URLs, tried in turn when one fails (failover).
    public var fallbackURLs: [ServerURL] = []
    /// Replace a connection this old with a fresh one (nil: never).
    public var maxConnectionAge: Duration?
    /// Unanswered heartbeats after which the link is declared dead.
    public var missedHeartbeats: Int = 3
    /// The connect deadline: from dialling to the server's `welcome` (`uplink.connectTimeoutMs`).
    public var connectTimeout: Duration = .seconds(30)
    /// Under a steady stream, the least time between two reading messages (`uplink.lingerMs`).
    public var linger: Duration = Uplink.Configuration.defaultLinger
    /// Where `/metrics` and `/healthz` are served (`metrics.listen`); nil: not at all.
    public var metricsListen: MetricsListen? = .default
    /// File holding the bearer token (absolute after loading).
    public var tokenFile: String
    /// TLS, proxy and compression of the link (`server.tls`, `server.proxy`, `server.compression`).
    public var uplink: UplinkOptions
    /// Where the epoch and the spool (`spool/`) are kept.
    public var stateDirectory: String
    /// Folders (or files) of device profiles.
    public var profileFolders: [String]
    /// Statically bound ports.
    public var ports: [StaticPort]
    /// Shared lines with several polled devices.
    public var buses: [Bus]
    /// Wire encoding of readings: JSON (default) or the compact binary records.
    public var encoding: WireFormat = .json
    /// A streaming device is read at most this often while its reads are small (`readIntervalMs`);
    /// zero: every byte is read the moment it arrives.
    public var readInterval: Duration = DeviceSession.defaultReadInterval
    /// Whether devices found by udev get sessions when a profile's match rule claims them.
    public var discovery: Bool
    /// Reconnect backoff.
    public var backoff: Backoff
    /// How long shutdown waits for outstanding acknowledgements.
    public var drainTimeout: Duration
    /// Log level name: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String
    /// Log line format (`logFormat`); `auto` picks journald under systemd, text elsewhere.
    public var logFormat: LogFormatSetting = .auto
    /// Where ``profileFolders`` came from.
    public var profileFoldersOrigin: ProfileFoldersOrigin = .file
    /// The environment this config was loaded with (a reload of ``file`` applies it again).
    public var environment: [String: String] = [:]
    /// The defaults this config was loaded with (a reload applies them again).
    public var defaults = ConfigDefaults(profileFolders: [])
    /// The environment variables that overrode the file, e.g. `["SERIALBRIDGE_TOKEN_FILE"]`.
    public var overridden: [String] = []
    /// The durable spool's limits and durability (`STATE/spool`).
    public var spool = SpoolConfiguration()

    /// Loads and validates a config file, reporting every mistake as `FILE: JSON-PATH: message`
    /// (and every bad environment variable as `env: NAME: message`).
    /// - Parameters:
    ///   - environment: the process environment; only the variables of ``ConfigOverrides`` are
    ///     read. Empty by default, so nothing overrides the file.
    ///   - defaults: what applies where the file and the environment say nothing.
    public static func load(
        file: String, environment: [String: String] = [:], defaults: ConfigDefaults = .installed()
    ) throws(ConfigErrors) -> GatewayConfig {
        let overrides = ConfigOverrides(environment: environment)
        let document: JSONNode
        do {
            document = try JSONDocument.load(file: file)
        } catch {
            throw ConfigErrors(error.errors + overrides.errors)
        }
        let base = Self.folder(of: file)
        var root = JSONObjectReader(document, file: file, path: "$")
        root.absorb(overrides.errors)
        var gatewayId = root.string("gatewayId", required: overrides.gatewayId == nil)
        if let gatewayId, gatewayId.isEmpty || gatewayId.utf8.count > 128 {
            root.fail(key: "gatewayId", "must be 1 to 128 characters")
        }
        gatewayId = overrides.gatewayId ?? gatewayId
        var url: ServerURL?
        var tokenFile: String?
        var fallbackURLs: [ServerURL] = []
        var maxConnectionAge: Duration?
        var missedHeartbeats = 3
        var connectTimeoutMs = 30_000
        var lingerMs: Int?
        if var link = root.object("uplink") {
            if let milliseconds = link.integer("maxConnectionAgeMs", in: 100...604_800_000) { maxConnectionAge = .milliseconds(milliseconds) }
            missedHeartbeats = link.integer("missedHeartbeats", in: 1...10) ?? 3
            connectTimeoutMs = link.integer("connectTimeoutMs", in: 100...600_000) ?? 30_000
            lingerMs = link.integer("lingerMs", in: 0...1_000)
            root.absorb(link)
        }
        var uplink = UplinkOptions()
        let serverRequired = overrides.serverURL == nil || overrides.tokenFile == nil
        if var server = root.object("server", required: serverRequired) {
            if let text = server.string("url", required: overrides.serverURL == nil) {
                url = ServerURL(text)
                if url == nil { server.fail(key: "url", "must be a ws:// or wss:// URL with a host, not \"\(text)\"") }
            }
            url = overrides.serverURL ?? url
            tokenFile = server.string("tokenFile", required: overrides.tokenFile == nil).map { Self.resolve($0, against: base) }
            for item in server.array("fallbackUrls") ?? [] {
                if case .string(let text) = item.value, let parsed = ServerURL(text) {
                    fallbackURLs.append(parsed)
                } else {
                    server.fail(item.path, "must be a ws:// or wss:// URL with a host")
                }
            }
            uplink = UplinkOptions.read(&server, url: url, base: base)
            root.absorb(server)
        } else {
            url = overrides.serverURL
            if let url, url.secure { uplink.tls = UplinkTLSSettings() }
        }
        tokenFile = overrides.tokenFile ?? tokenFile
        let fileStateDirectory = Self.resolve(root.string("stateDirectory") ?? "state", against: base)
        let stateDirectory = overrides.stateDirectory ?? fileStateDirectory
        var profileFolders: [String] = []
        var profileFoldersOrigin = ProfileFoldersOrigin.file
        let listedFolders = root.array("profileFolders")
        for item in listedFolders ?? [] {
            if case .string(let folder) = item.value {
                profileFolders.append(Self.resolve(folder, against: base))
            } else {
                root.fail(item.path, "must be a string")
            }
        }
        if let folders = overrides.profileFolders {
            profileFolders = folders
            profileFoldersOrigin = .environment
        } else if listedFolders == nil {
            profileFolders = defaults.profileFolders.filter(ConfigDefaults.exists)
            profileFoldersOrigin = .defaults
        }
        var ports: [StaticPort] = []
        var deviceIds: Set<String> = []
        for item in root.array("ports") ?? [] {
            var port = JSONObjectReader(item.value, file: file, path: item.path)
            let device = port.string("device", required: true)
            let path = port.string("path", required: true)
            let profile = port.string("profile", required: true)
            let portEncoding = port.choice("encoding", WireFormat.self)
            if let device, !deviceIds.insert(device).inserted {
                port.fail(key: "device", "duplicate device id \"\(device)\"")
            }
            if let device, let path, let profile {
                ports.append(StaticPort(device: device, path: Self.resolve(path, against: base), profile: profile, encoding: portEncoding))
            }
            root.absorb(port)
        }
        var buses: [Bus] = []
        var busPaths: Set<String> = Set(ports.map(\.path))
        for item in root.array("buses") ?? [] {
            var bus = JSONObjectReader(item.value, file: file, path: item.path)
            let path = bus.string("path", required: true).map { Self.resolve($0, against: base) }
            if let path, !busPaths.insert(path).inserted {
                bus.fail(key: "path", "\(path) is already used by another port or bus")
            }
            var serial: SerialSettings?
            if var settings = bus.object("serial") {
                serial = ProfileLoader.readSerial(&settings)
                bus.absorb(settings)
            }
            var members: [Bus.Member] = []
            var units: Set<Int> = []
            for entry in bus.array("devices", required: true) ?? [] {
                var member = JSONObjectReader(entry.value, file: file, path: entry.path)
                let device = member.string("device", required: true)
                let profile = member.string("profile", required: true)
                let unit = member.integer("unitId", in: 1...247)
                let memberEncoding = member.choice("encoding", WireFormat.self)
                if let device, !deviceIds.insert(device).inserted {
                    member.fail(key: "device", "duplicate device id \"\(device)\"")
                }
                if let unit, !units.insert(unit).inserted {
                    member.fail(key: "unitId", "unit \(unit) is already on this bus")
                }
                if let device, let profile { members.append(Bus.Member(device: device, profile: profile, unitId: unit, encoding: memberEncoding)) }
                bus.absorb(member)
            }
            if members.isEmpty, bus.isClean { bus.fail(key: "devices", "must list at least one device") }
            if let path, !members.isEmpty { buses.append(Bus(path: path, serial: serial, devices: members)) }
            root.absorb(bus)
        }
        var backoff = Backoff()
        if var reconnect = root.object("reconnect") {
            let initial = reconnect.integer("initialDelayMs", in: 1...3_600_000) ?? 500
            let cap = reconnect.integer("maxDelayMs", in: 1...86_400_000) ?? 30_000
            let multiplier = reconnect.number("multiplier") ?? 2
            if multiplier < 1 || multiplier > 10 { reconnect.fail(key: "multiplier", "must be from 1 to 10") }
            if cap < initial { reconnect.fail(key: "maxDelayMs", "must not be less than initialDelayMs (\(initial))") }
            backoff = Backoff(initial: .milliseconds(initial), multiplier: multiplier, cap: .milliseconds(cap))
            root.absorb(reconnect)
        }
        let drainMs = root.integer("drainTimeoutMs", in: 0...600_000) ?? 10_000
        let discovery = root.bool("discovery") ?? true
        let encoding = root.choice("encoding", WireFormat.self) ?? .json
        let readIntervalMs = root.integer("readIntervalMs", in: 0...1_000)
        // The file's value is read even when overridden, so that its mistakes are reported.
        let fileLogLevel = root.choice("logLevel", LogLevelName.self)?.rawValue
        let logLevel = overrides.logLevel ?? fileLogLevel ?? "info"
        let logFormat = root.choice("logFormat", LogFormatSetting.self)
        let spool = Self.spool(&root)
        var metricsListen = MetricsListen.read(&root)
        if let listen = overrides.metricsListen { metricsListen = listen }
        let errors = root.finish()
        guard errors.isEmpty, let gatewayId, let url, let tokenFile else { throw ConfigErrors(errors) }
        var config = GatewayConfig(
            file: file, gatewayId: gatewayId, serverURL: url, tokenFile: tokenFile, uplink: uplink, stateDirectory: stateDirectory,
            profileFolders: profileFolders, ports: ports, buses: buses, encoding: encoding, discovery: discovery, backoff: backoff,
            drainTimeout: .milliseconds(drainMs), logLevel: logLevel, spool: spool
        )
        config.fallbackURLs = fallbackURLs
        config.maxConnectionAge = maxConnectionAge
        config.missedHeartbeats = missedHeartbeats
        config.connectTimeout = .milliseconds(connectTimeoutMs)
        if let lingerMs { config.linger = .milliseconds(lingerMs) }
        if let readIntervalMs { config.readInterval = .milliseconds(readIntervalMs) }
        config.metricsListen = metricsListen
        config.logFormat = overrides.logFormat ?? logFormat ?? .auto
        config.profileFoldersOrigin = profileFoldersOrigin
        // Only the variables that matter: the rest of the environment (secrets included) is not kept.
        config.environment = environment.filter { entry in ConfigOverrides.all.contains { $0.name == entry.key } }
        config.defaults = defaults
        config.overridden = overrides.applied
        return config
    }

    /// The `spool` object; defaults where absent.
    static func spool(_ root: inout JSONObjectReader) -> SpoolConfiguration {
        var spool = SpoolConfiguration()
        guard var reader = root.object("spool") else { return spool }
        spool.maxBytes = reader.integer("maxBytes", in: (1 << 20)...(1 << 50)) ?? spool.maxBytes
        spool.maxAgeSeconds = reader.integer("maxAgeSeconds", in: 1...(100 * 365 * 86_400))
        spool.whenFull = reader.choice("whenFull", WhenFull.self) ?? spool.whenFull
        spool.commitInterval = .milliseconds(reader.integer("commitIntervalMs", in: 1...60_000) ?? 100)
        spool.commitFrames = reader.integer("commitFrames", in: 1...10_000_000) ?? spool.commitFrames
        spool.backlogRateLimit = reader.integer("backlogRateLimit", in: 1...10_000_000)
        root.absorb(reader)
        return spool
    }

    /// Loads ``file`` again with the environment and defaults this config was loaded with (for
    /// SIGHUP): an override stays an override across reloads.
    public func reloaded() throws(ConfigErrors) -> GatewayConfig {
        guard let file else { return self }
        return try Self.load(file: file, environment: environment, defaults: defaults)
    }

    enum LogLevelName: String, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    static func folder(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    static func resolve(_ path: String, against base: String) -> String {
        path.hasPrefix("/") ? path : (base == "." ? path : base + "/" + path)
    }
}
