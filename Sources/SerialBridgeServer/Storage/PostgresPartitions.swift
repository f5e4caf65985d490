import Logging
import PostgresNIO
import Synchronization

/// The day partitions of `readings`: naming, which days get one, and creating them.
///
/// Each UTC day `[day, day + 24 h)` (ms) has a partition `readings_pYYYYMMDD`. Partitions are made
/// ahead of time (``aheadDays`` from today, at start and at every prune) and on demand when a batch
/// holds a timestamp whose day has none, if that day lies within ``onDemandPastDays`` before and
/// ``onDemandFutureDays`` after today. Anything else (a gateway whose clock says 1970 or 2200) lands in
/// the DEFAULT partition, so that no timestamp ever fails an insert, and a few bad clocks cannot
/// create thousands of tables. Default rows are deleted by retention in batches like any other.
final class PostgresPartitions: Sendable {
    /// Name of the DEFAULT partition.
    static let defaultPartition = "readings_default"
    /// Prefix of the day partitions' names.
    static let prefix = "readings_p"
    /// One day, ms.
    static let day: Int64 = 86_400_000

    /// Days after today made before data arrives.
    let aheadDays: Int64
    /// How far back a day still gets its own partition on demand.
    let onDemandPastDays: Int64
    /// How far ahead a day gets its own partition on demand.
    let onDemandFutureDays: Int64

    init(aheadDays: Int64 = 2, onDemandPastDays: Int64 = 400, onDemandFutureDays: Int64 = 7) {
        self.aheadDays = aheadDays
        self.onDemandPastDays = onDemandPastDays
        self.onDemandFutureDays = onDemandFutureDays
    }

    /// Days known to have a partition (by start, ms), so that a batch asks the database only about new days.
    private let known = Mutex<Set<Int64>>([])
    /// The raw retention cutoff last seen: days wholly before it get no partition (their readings
    /// are not stored, and retention would drop the partition again).
    private let horizon = Mutex<Int64?>(nil)

    /// The start (ms) of the day holding `timestamp`.
    static func dayStart(_ timestamp: Int64) -> Int64 {
        RollupAccumulator.floor(timestamp, day)
    }

    /// The partition name of the day starting at `start`: `readings_pYYYYMMDD` (UTC).
    static func name(dayStart start: Int64) -> String {
        let (year, month, day) = civil(daysSinceEpoch: start / Self.day)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(prefix)\(year)\(two(month))\(two(day))"
    }

    /// The day start (ms) a partition name stands for, or nil for a name that is not a day partition.
    static func dayStart(name: String) -> Int64? {
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard digits.count == 8, digits.allSatisfy(\.isASCII), let number = Int64(digits) else { return nil }
        let year = number / 10_000, month = number / 100 % 100, day = number % 100
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        return daysFromCivil(year: year, month: month, day: day) * Self.day
    }

    /// The days (starts, ms) among `timestamps` that should have a partition and are not known to.
    func missingDays(for timestamps: some Sequence<Int64>, now: Int64) -> [Int64] {
        let today = Self.dayStart(now)
        let earliest = today - onDemandPastDays * Self.day, latest = today + onDemandFutureDays * Self.day
        let floor = horizon.withLock { $0 }.map { $0 - Self.day } ?? Int64.min
        let wanted = Set(timestamps.lazy.map(Self.dayStart).filter { $0 >= earliest && $0 <= latest && $0 > floor })
        return known.withLock { known in wanted.subtracting(known).sorted() }
    }

    /// The days from today to ``aheadDays`` ahead (and yesterday, for a server started just after midnight).
    func aheadDays(now: Int64) -> [Int64] {
        let today = Self.dayStart(now)
        return (-1...aheadDays).map { today + $0 * Self.day }
    }

    /// Makes sure each day in `days` has its partition, creating the missing ones (each in its own
    /// transaction on `connection`). Rows already in the DEFAULT partition for such a day move into
    /// it, since PostgreSQL refuses a new partition whose range the default partition has rows of.
    func ensure(days: [Int64], on connection: PostgresConnection, logger: Logger) async throws {
        for start in days where !known.withLock({ $0.contains(start) }) {
            try await connection.withTransaction(logger: logger) { connection in
                try await Self.create(dayStart: start, connection, logger: logger)
            }
            _ = known.withLock { $0.insert(start) }
        }
    }

    /// Remembers the raw retention cutoff (it only rises).
    func raiseHorizon(to cutoff: Int64) {
        horizon.withLock { $0 = max($0 ?? cutoff, cutoff) }
    }

    /// Forgets a day (its partition was dropped by retention).
    func forget(dayStart start: Int64) {
        _ = known.withLock { $0.remove(start) }
    }

    /// An advisory lock taken (per transaction) around creating a partition, so that two instances
    /// creating the same day do not race ("SBpart").
    static let creationLock: Int64 = 0x5342_7061_7274

    private static func create(dayStart start: Int64, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(creationLock))", logger: logger)
        let table = name(dayStart: start)
        let exists = try await connection.query("SELECT to_regclass(\(table)) IS NOT NULL", logger: logger).decode(Bool.self)
        for try await found in exists where found { return }
        let end = start + day
        try await connection.query(PostgresQuery(unsafeSQL: """
            CREATE TABLE \(table) (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
            """), logger: logger)
        try await connection.query(PostgresQuery(unsafeSQL: """
            WITH moved AS (DELETE FROM \(defaultPartition) WHERE ts >= \(start) AND ts < \(end) RETURNING *)
            INSERT INTO \(table) SELECT * FROM moved
            """), logger: logger)
        // Attaching builds the partition's share of the partitioned indexes.
        try await connection.query(PostgresQuery(unsafeSQL: """
            ALTER TABLE readings ATTACH PARTITION \(table) FOR VALUES FROM (\(start)) TO (\(end))
            """), logger: logger)
        logger.debug("PostgreSQL: created partition \(table)")
    }

    /// The day partitions attached to `readings`, by day start, oldest first.
    static func attached(_ connection: PostgresConnection, logger: Logger) async throws -> [(start: Int64, name: String)] {
        let rows = try await connection.query("""
            SELECT child.relname::text FROM pg_inherits
            JOIN pg_class child ON child.oid = pg_inherits.inhrelid
            WHERE pg_inherits.inhparent = 'readings'::regclass
            """, logger: logger).decode(String.self)
        var partitions: [(start: Int64, name: String)] = []
        for try await name in rows {
            if let start = dayStart(name: name) { partitions.append((start, name)) }
        }
        return partitions.sorted { $0.start < $1.start }
    }

    // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian, day 0 = 1970-01-01).
    static func civil(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
