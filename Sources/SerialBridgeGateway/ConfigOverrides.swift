import SerialBridgeJSON
import SerialBridgeLogging
import SerialBridgeUplink

/// The environment variables that override the config file (docs/CONFIG.md#environment).
///
/// An override replaces the file's value (a required key may then be left out of the file); an
/// empty variable counts as unset. A bad value is a ``ConfigError`` with `env` as its file and the
/// variable as its path: `env: SERIALBRIDGE_SERVER_URL: must be a ws:// or wss:// URL …`. Paths
/// from the environment are taken as given (relative to the working directory), not resolved
/// against the config file's folder.
public struct ConfigOverrides: Sendable, Hashable {
    /// One overridable setting: its variable and the config key it replaces.
    public struct Variable: Sendable, Hashable {
        /// The environment variable.
        public var name: String
        /// The config key it overrides, as a JSON path.
        public var key: String
    }

    /// `gatewayId`.
    public static let gatewayId = Variable(name: "SERIALBRIDGE_GATEWAY_ID", key: "$.gatewayId")
    /// `server.url`.
    public static let serverURL = Variable(name: "SERIALBRIDGE_SERVER_URL", key: "$.server.url")
    /// `server.tokenFile`; e.g. `%d/token` under systemd's `LoadCredential=`.
    public static let tokenFile = Variable(name: "SERIALBRIDGE_TOKEN_FILE", key: "$.server.tokenFile")
    /// `stateDirectory`; e.g. `$STATE_DIRECTORY` under systemd's `StateDirectory=`.
    public static let stateDirectory = Variable(name: "SERIALBRIDGE_STATE_DIRECTORY", key: "$.stateDirectory")
    /// `profileFolders`, colon-separated.
    public static let profileFolders = Variable(name: "SERIALBRIDGE_PROFILE_FOLDERS", key: "$.profileFolders")
    /// `metrics.listen`: `HOST:PORT`, or `off`.
    public static let metricsListen = Variable(name: "SERIALBRIDGE_METRICS_LISTEN", key: "$.metrics.listen")
    /// `logLevel`.
    public static let logLevel = Variable(name: LoggingSetup.levelVariable, key: "$.logLevel")
    /// `logFormat`.
    public static let logFormat = Variable(name: LoggingSetup.formatVariable, key: "$.logFormat")
    /// Every variable, in documentation order.
    public static let all = [gatewayId, serverURL, tokenFile, stateDirectory, profileFolders, metricsListen, logLevel, logFormat]

    /// The overriding gateway id.
    public var gatewayId: String?
    /// The overriding server URL.
    public var serverURL: ServerURL?
    /// The overriding token file.
    public var tokenFile: String?
    /// The overriding state directory.
    public var stateDirectory: String?
    /// The overriding profile folders.
    public var profileFolders: [String]?
    /// The overriding metrics address; `.some(nil)` turns the endpoint off.
    public var metricsListen: MetricsListen??
    /// The overriding log level name.
    public var logLevel: String?
    /// The overriding log format.
    public var logFormat: LogFormatSetting?
    /// The variables that were set (non-empty) and valid.
    public var applied: [String] = []
    /// Every bad value.
    public var errors: [ConfigError] = []

    /// No overrides.
    public init() {}

    /// Reads the variables from `environment`.
    public init(environment: [String: String]) {
        func value(_ variable: Variable) -> String? {
            guard let text = environment[variable.name], !text.isEmpty else { return nil }
            return text
        }
        func fail(_ variable: Variable, _ message: String) {
            errors.append(ConfigError(file: "env", path: variable.name, message: message))
        }
        func take(_ variable: Variable) { applied.append(variable.name) }
        if let text = value(Self.gatewayId) {
            if text.utf8.count > 128 { fail(Self.gatewayId, "must be 1 to 128 characters") } else { gatewayId = text; take(Self.gatewayId) }
        }
        if let text = value(Self.serverURL) {
            if let url = ServerURL(text) { serverURL = url; take(Self.serverURL) } else { fail(Self.serverURL, "must be a ws:// or wss:// URL with a host, not \"\(text)\"") }
        }
        if let text = value(Self.tokenFile) {
            tokenFile = text
            take(Self.tokenFile)
        }
        if let text = value(Self.stateDirectory) {
            stateDirectory = text
            take(Self.stateDirectory)
        }
        if let text = value(Self.profileFolders) {
            let folders = text.split(separator: ":").map(String.init)
            if folders.isEmpty { fail(Self.profileFolders, "must name at least one folder or file (separated by \":\")") } else { profileFolders = folders; take(Self.profileFolders) }
        }
        if let text = value(Self.metricsListen) {
            if text == "off" {
                metricsListen = .some(nil)
                take(Self.metricsListen)
            } else if let listen = MetricsListen(parsing: text) {
                metricsListen = listen
                take(Self.metricsListen)
            } else {
                fail(Self.metricsListen, "must be \"HOST:PORT\" such as \"127.0.0.1:9464\" (\"[::1]:9464\" for IPv6, port 0 to 65535), or \"off\", not \"\(text)\"")
            }
        }
        if let text = value(Self.logLevel) {
            if GatewayConfig.LogLevelName(rawValue: text) != nil { logLevel = text; take(Self.logLevel) } else {
                let names = GatewayConfig.LogLevelName.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                fail(Self.logLevel, "must be one of \(names), not \"\(text)\"")
            }
        }
        if let text = value(Self.logFormat) {
            if let format = LogFormatSetting(rawValue: text) { logFormat = format; take(Self.logFormat) } else {
                fail(Self.logFormat, "must be one of \(LogFormatSetting.names), not \"\(text)\"")
            }
        }
    }
}
