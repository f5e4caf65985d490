#if canImport(Glibc)
import Glibc
#endif

/// A wall-clock instant for a log line, with the local UTC offset at that instant.
///
/// Formatting is plain arithmetic into the line's byte buffer: no Foundation date formatter and no
/// `strftime` per line. Only ``now()`` asks the C library, for the clock and (text format only)
/// the local offset.
public struct LogTimestamp: Sendable, Hashable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// Nanoseconds within the second.
    public var nanoseconds: Int32
    /// Local time minus UTC, in seconds (e.g. 7200 for UTC+2).
    public var utcOffset: Int32

    /// Creates an instant.
    public init(seconds: Int64, nanoseconds: Int32 = 0, utcOffset: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
        self.utcOffset = utcOffset
    }

    /// The current time (CLOCK_REALTIME); with `local`, also the local offset (TZ, /etc/localtime).
    public static func now(local: Bool = true) -> LogTimestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var offset: Int32 = 0
        if local {
            var seconds = spec.tv_sec
            var broken = tm()
            if localtime_r(&seconds, &broken) != nil { offset = Int32(truncatingIfNeeded: broken.tm_gmtoff) }
        }
        return LogTimestamp(seconds: Int64(spec.tv_sec), nanoseconds: Int32(truncatingIfNeeded: spec.tv_nsec), utcOffset: offset)
    }

    /// Appends `2025-06-01T12:34:56.789+02:00`: local time, milliseconds, offset.
    public func appendLocal(to bytes: inout [UInt8]) {
        appendDateTime(seconds + Int64(utcOffset), to: &bytes)
        let sign = utcOffset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")
        let minutes = Int(utcOffset.magnitude) / 60
        bytes.append(sign)
        Self.append(minutes / 60, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.append(minutes % 60, digits: 2, to: &bytes)
    }

    /// Appends `2025-06-01T10:34:56.789Z`: UTC, milliseconds.
    public func appendUTC(to bytes: inout [UInt8]) {
        appendDateTime(seconds, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    private func appendDateTime(_ seconds: Int64, to bytes: inout [UInt8]) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let inDay = Int(seconds - days * 86_400)
        let (year, month, day) = Self.civil(days: days)
        Self.append(Int(year), digits: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        Self.append(month, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        Self.append(day, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        Self.append(inDay / 3600, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.append(inDay / 60 % 60, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.append(inDay % 60, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        Self.append(Int(nanoseconds / 1_000_000), digits: 3, to: &bytes)
    }

    /// Year, month, day of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civil(days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Zero-padded decimal; `value` is never negative here (years before 1 AD are not logged).
    static func append(_ value: Int, digits: Int, to bytes: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<digits { divisor *= 10 }
        var rest = max(0, value)
        if rest >= divisor * 10 {
            bytes.append(contentsOf: String(rest).utf8)
            return
        }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
