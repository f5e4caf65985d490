/// What `GET /api/devices/{id}/readings` was asked for, once its parameters are checked.
public enum HistoryRequest: Sendable, Hashable {
    /// No time range: the newest `limit` readings (the original form of the endpoint).
    case newest(limit: Int)
    /// A time range, answered raw or downsampled (see ``HistoryPlan``).
    case range(HistoryRange)

    /// Readings returned by the original form when no `limit` is given.
    public static let defaultLimit = 100
    /// Largest `limit` and `points`.
    public static let maxPoints = 10_000
    /// Target points when a range gives neither `points` nor `step`.
    public static let defaultPoints = 1_000
    /// The range when only `to` (or nothing but `points`/`step`) is given: the last 24 hours.
    public static let defaultSpan: Int64 = 86_400_000

    /// Checks the parameters; `now` is the default `to`.
    static func parse(_ query: QueryParameters, now: Int64) throws(APIError) -> HistoryRequest {
        let ranged = ["from", "to", "points", "step"].contains { query.has($0) }
        guard ranged else {
            return .newest(limit: try query.integer("limit", in: 1...maxPoints) ?? defaultLimit)
        }
        guard !query.has("limit") else {
            throw .badRequest("limit applies only without from, to, points and step; with a time range use points")
        }
        let to = try query.time("to") ?? now
        let from = try query.time("from") ?? max(0, to - defaultSpan)
        guard from <= to else { throw .badRequest("from (\(from)) must not be after to (\(to))") }
        let points = try query.integer("points", in: 1...maxPoints)
        let step = try query.duration("step")
        if points != nil && step != nil { throw .badRequest("give points or step, not both") }
        if let step {
            guard step % RollupResolution.minute.milliseconds == 0 else {
                throw .badRequest("step must be a whole number of minutes (the finest rollup), not \(step) ms")
            }
            let buckets = (to - from) / step + 1
            guard buckets <= Int64(maxPoints) else {
                throw .badRequest("step \(step) ms makes \(buckets) buckets over this range; at most \(maxPoints): use a larger step")
            }
        }
        return .range(HistoryRange(from: from, to: to, points: points ?? defaultPoints, step: step))
    }
}

/// A time range of history, inclusive at both ends (ms since 1970).
public struct HistoryRange: Sendable, Hashable {
    /// Start.
    public var from: Int64
    /// End.
    public var to: Int64
    /// Most readings or buckets wanted (ignored when `step` is given).
    public var points: Int
    /// Bucket width asked for, ms (a multiple of a minute); nil lets the plan choose.
    public var step: Int64?

    /// Creates a range.
    public init(from: Int64, to: Int64, points: Int, step: Int64? = nil) {
        self.from = from
        self.to = to
        self.points = points
        self.step = step
    }
}

/// How a time range is answered: raw readings when they fit in the points asked for (and are
/// still kept), otherwise buckets from the rollups. A pure decision, tested on its own.
public enum HistoryPlan: Sendable, Hashable {
    /// Raw readings, at most `limit`.
    case raw(limit: Int)
    /// Buckets of `step` ms from the `resolution` rollups.
    case buckets(step: Int64, resolution: RollupResolution)

    /// Bucket widths chosen when only `points` is given: round figures, each a multiple of a minute,
    /// and from an hour on a multiple of an hour (so the hourly rollups can answer).
    static let ladder: [Int64] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1_440, 2_880, 10_080, 20_160, 43_200].map { $0 * 60_000 }

    /// The plan for `range`. `rawCount` is the number of raw readings in the range, counted up to
    /// `range.points + 1`; `cutoffs` says what retention has deleted (nil: nothing of that kind).
    public static func plan(_ range: HistoryRange, rawCount: Int, cutoffs: RetentionCutoffs) -> HistoryPlan {
        if let step = range.step {
            return .buckets(step: step, resolution: step % RollupResolution.hour.milliseconds == 0 ? .hour : .minute)
        }
        let rawComplete = cutoffs.raw.map { range.from >= $0 } ?? true
        if rawCount <= range.points && rawComplete {
            return .raw(limit: range.points)
        }
        var step = steps(for: range.to - range.from + 1, points: range.points)
        // Per-minute cells older than their retention are gone: a range reaching back there is
        // answered from the hourly cells, at an hour per bucket at least.
        if step % RollupResolution.hour.milliseconds != 0, let horizon = cutoffs.minuteRollups, range.from < horizon {
            step = ladder.first { $0 >= step && $0 % RollupResolution.hour.milliseconds == 0 } ?? step
        }
        return .buckets(step: step, resolution: step % RollupResolution.hour.milliseconds == 0 ? .hour : .minute)
    }

    /// The smallest ladder step that cuts `span` ms into at most `points` buckets; past the ladder, whole days.
    static func steps(for span: Int64, points: Int) -> Int64 {
        let wanted = (span + Int64(points) - 1) / Int64(max(points, 1))
        if let step = ladder.first(where: { $0 >= wanted }) { return step }
        let day = RetentionPolicy.day
        return (wanted + day - 1) / day * day
    }
}
