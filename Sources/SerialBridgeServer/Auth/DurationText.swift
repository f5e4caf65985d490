/// Durations as people write them on the command line: `90s`, `30m`, `12h`, `7d`.
public enum DurationText {
    /// Parses a whole number followed by `s`, `m`, `h` or `d`; nil for anything else.
    public static func parse(_ text: String) -> Duration? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0 else { return nil }
        let seconds: Int64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        default: return nil
        }
        let (total, overflow) = count.multipliedReportingOverflow(by: seconds)
        return overflow ? nil : .seconds(total)
    }
}
