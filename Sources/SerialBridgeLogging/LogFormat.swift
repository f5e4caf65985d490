/// How log lines are written to standard error (docs/LOGGING.md).
public enum LogFormat: String, Sendable, CaseIterable {
    /// For a person at a terminal: `TIME LEVEL LABEL: MESSAGE key=value…`, local time with milliseconds.
    case text
    /// For systemd's journal: a `<N>` sd-daemon priority prefix and no timestamp (the journal
    /// stamps each line itself).
    case journald
    /// One JSON object per line, for log shippers: `time` (UTC), `level`, `label`, `message`,
    /// and `metadata` when there is any.
    case json
}

/// A log format as configured: one of the formats, or `auto` (the default), which picks
/// ``LogFormat/journald`` when standard error is the journal and ``LogFormat/text`` otherwise.
public enum LogFormatSetting: String, Sendable, CaseIterable {
    /// Decide from where standard error goes (see ``JournalStream``).
    case auto
    /// Always ``LogFormat/text``.
    case text
    /// Always ``LogFormat/journald``.
    case journald
    /// Always ``LogFormat/json``.
    case json

    /// The format to write: the fixed one, or for `auto` the journal test on `descriptor`.
    /// - Parameter environment: the process environment (only `JOURNAL_STREAM` is read).
    public func resolve(environment: [String: String], descriptor: Int32 = 2) -> LogFormat {
        switch self {
        case .text: .text
        case .journald: .journald
        case .json: .json
        case .auto: JournalStream.isJournal(descriptor, environment: environment) ? .journald : .text
        }
    }

    /// The accepted names, quoted and comma-separated, for error messages.
    public static var names: String { allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }
}
