#if canImport(Glibc)
import Glibc
#endif

/// The protocol's timestamps: milliseconds since 1970-01-01T00:00:00Z (`ts` fields).
public enum Timestamp {
    /// Now, from the system's real-time clock.
    public static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
