#if canImport(Glibc)
import Glibc
#endif

/// Whether a descriptor is connected to systemd's journal, the documented way: systemd sets
/// `JOURNAL_STREAM=DEVICE:INODE` for a service whose output goes to the journal, and the
/// descriptor is the journal's stream only if its `st_dev` and `st_ino` are exactly those. A child
/// whose standard error was redirected elsewhere inherits the variable but fails the comparison.
public enum JournalStream {
    /// True when `descriptor` is the stream `JOURNAL_STREAM` names.
    public static func isJournal(_ descriptor: Int32, environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"], let (device, inode) = parse(value) else { return false }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// `DEVICE:INODE` in decimal, as systemd writes it; nil for anything else.
    public static func parse(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }
}
