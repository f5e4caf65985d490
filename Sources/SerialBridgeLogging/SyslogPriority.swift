import Logging

extension Logger.Level {
    /// The syslog priority journald files a line of this level under (the `<N>` prefix of
    /// sd-daemon(3)): swift-log has no `emerg`/`alert`, and `trace` is finer than syslog's finest.
    ///
    /// | level | priority |
    /// |---|---|
    /// | trace, debug | 7 (debug) |
    /// | info | 6 (info) |
    /// | notice | 5 (notice) |
    /// | warning | 4 (warning) |
    /// | error | 3 (err) |
    /// | critical | 2 (crit) |
    public var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
