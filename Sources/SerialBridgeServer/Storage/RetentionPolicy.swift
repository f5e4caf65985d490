/// How long the server keeps what it stores. Each age is in milliseconds; nil keeps forever.
///
/// Raw readings go first; the per-minute rollups outlive them and the hourly rollups outlive those,
/// so that long time ranges stay answerable (downsampled) after the raw readings are gone.
public struct RetentionPolicy: Sendable, Hashable {
    /// Raw readings, device and gateway events, and command results (default 30 days).
    public var raw: Int64?
    /// Per-minute rollups (default 90 days).
    public var minuteRollups: Int64?
    /// Hourly rollups (default 2 years).
    public var hourRollups: Int64?

    /// One day in milliseconds.
    public static let day: Int64 = 86_400_000

    /// The defaults: raw 30 days, per-minute rollups 90 days, hourly rollups 730 days.
    public static let standard = RetentionPolicy(raw: 30 * day, minuteRollups: 90 * day, hourRollups: 730 * day)

    /// Creates a policy.
    public init(raw: Int64?, minuteRollups: Int64?, hourRollups: Int64?) {
        self.raw = raw
        self.minuteRollups = minuteRollups
        self.hourRollups = hourRollups
    }

    /// What is older than these timestamps goes, at `now` (ms since 1970).
    public func cutoffs(now: Int64) -> RetentionCutoffs {
        RetentionCutoffs(
            raw: raw.map { now - $0 }, minuteRollups: minuteRollups.map { now - $0 }, hourRollups: hourRollups.map { now - $0 }
        )
    }

    /// Parses an age such as `30d`, `12h`, `90m`, `45s` or `forever` (also `0`): nil means keep
    /// forever. Throws a message naming the text when it is not one.
    public static func parseAge(_ text: String) throws(RetentionAgeError) -> Int64? {
        let trimmed = text.lowercased()
        if trimmed == "forever" || trimmed == "0" { return nil }
        let units: [(suffix: String, milliseconds: Int64)] = [("d", day), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)]
        guard let unit = units.first(where: { trimmed.hasSuffix($0.suffix) }),
              let count = Int64(trimmed.dropLast(unit.suffix.count)), count > 0,
              count <= Int64.max / unit.milliseconds
        else {
            throw RetentionAgeError(text: text)
        }
        return count * unit.milliseconds
    }
}

/// An age that is not one of `30d`, `12h`, `90m`, `45s`, `forever`.
public struct RetentionAgeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text given.
    public var text: String

    public var description: String {
        "\"\(text)\" is not an age: use a positive number with d, h, m or s (e.g. 30d), or forever"
    }
}

/// Timestamps (ms since 1970) before which stored data is deleted; nil keeps that kind forever.
public struct RetentionCutoffs: Sendable, Hashable {
    /// Raw readings, events and command results older than this go.
    public var raw: Int64?
    /// Per-minute rollup cells starting before this go.
    public var minuteRollups: Int64?
    /// Hourly rollup cells starting before this go.
    public var hourRollups: Int64?

    /// Creates cutoffs.
    public init(raw: Int64?, minuteRollups: Int64?, hourRollups: Int64?) {
        self.raw = raw
        self.minuteRollups = minuteRollups
        self.hourRollups = hourRollups
    }
}

/// How many rows a prune deleted, by kind.
public struct PruneReport: Sendable, Hashable {
    /// Raw readings.
    public var readings = 0
    /// Device and gateway events.
    public var events = 0
    /// Command results.
    public var commands = 0
    /// Per-minute rollup cells.
    public var minuteCells = 0
    /// Hourly rollup cells.
    public var hourCells = 0

    /// An empty report.
    public init() {}

    /// Rows deleted in all.
    public var total: Int { readings + events + commands + minuteCells + hourCells }
}
