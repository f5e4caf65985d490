import Logging

/// The log level and format a program runs with, and the one-time swift-log bootstrap.
///
/// Precedence, highest first: the command-line flag, the environment
/// (`SERIALBRIDGE_LOG_LEVEL`, `SERIALBRIDGE_LOG_FORMAT`), the config file (gateway only), the
/// default (`info`, `auto`).
public struct LoggingSetup: Sendable, Equatable {
    /// Environment variable naming the log level.
    public static let levelVariable = "SERIALBRIDGE_LOG_LEVEL"
    /// Environment variable naming the log format.
    public static let formatVariable = "SERIALBRIDGE_LOG_FORMAT"

    /// The level below which events are dropped.
    public var level: Logger.Level
    /// The line format (resolved: never `auto`).
    public var format: LogFormat

    /// Creates a setup.
    public init(level: Logger.Level, format: LogFormat) {
        self.level = level
        self.format = format
    }

    /// Resolves flag, environment and config values; an unknown name is an error naming where it
    /// came from (`--log-format: …`, `env: SERIALBRIDGE_LOG_FORMAT: …`).
    public static func resolve(
        levelFlag: String?, formatFlag: String?, environment: [String: String],
        configLevel: String? = nil, configFormat: LogFormatSetting? = nil, descriptor: Int32 = 2
    ) throws(LoggingSetupError) -> LoggingSetup {
        var level = Logger.Level.info
        if let configLevel, let parsed = Logger.Level(rawValue: configLevel) { level = parsed }
        if let text = nonEmpty(environment[levelVariable]) { level = try parseLevel(text, source: "env: \(levelVariable)") }
        if let levelFlag { level = try parseLevel(levelFlag, source: "--log-level") }
        var setting = configFormat ?? .auto
        if let text = nonEmpty(environment[formatVariable]) { setting = try parseFormat(text, source: "env: \(formatVariable)") }
        if let formatFlag { setting = try parseFormat(formatFlag, source: "--log-format") }
        return LoggingSetup(level: level, format: setting.resolve(environment: environment, descriptor: descriptor))
    }

    /// A level name, or an error saying which names there are.
    public static func parseLevel(_ text: String, source: String) throws(LoggingSetupError) -> Logger.Level {
        guard let level = Logger.Level(rawValue: text) else {
            let names = Logger.Level.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw LoggingSetupError(description: "\(source): must be one of \(names), not \"\(text)\"")
        }
        return level
    }

    /// A format name, or an error saying which names there are.
    public static func parseFormat(_ text: String, source: String) throws(LoggingSetupError) -> LogFormatSetting {
        guard let setting = LogFormatSetting(rawValue: text) else {
            throw LoggingSetupError(description: "\(source): must be one of \(LogFormatSetting.names), not \"\(text)\"")
        }
        return setting
    }

    /// Bootstraps swift-log once for the process: every logger writes to standard error with
    /// this level and format.
    public func bootstrap() {
        let level = level
        let format = format
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, format: format, level: level)
        }
    }

    /// An empty variable counts as unset (systemd's `Environment=NAME=` clears a value that way).
    static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

/// A log level or format name that is not one.
public struct LoggingSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `SOURCE: must be one of …, not "…"`.
    public var description: String

    /// Creates the error with its whole message.
    public init(description: String) { self.description = description }
}
