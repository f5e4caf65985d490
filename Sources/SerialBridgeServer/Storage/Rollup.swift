import SerialBridgeProtocol

/// The resolutions at which numeric values are rolled up as they are stored.
public enum RollupResolution: String, Sendable, Hashable, CaseIterable {
    /// One cell per value per minute.
    case minute
    /// One cell per value per hour.
    case hour

    /// Width of one cell, ms.
    public var milliseconds: Int64 {
        switch self {
        case .minute: 60_000
        case .hour: 3_600_000
        }
    }
}

/// Aggregates of one value over one cell (or over a bucket made of cells).
public struct RollupCell: Sendable, Hashable {
    /// Smallest value.
    public var min: Double
    /// Largest value.
    public var max: Double
    /// Sum of the values (the mean is `sum / count`).
    public var sum: Double
    /// Number of values.
    public var count: Int64
    /// Timestamp of the earliest reading aggregated, ms.
    public var firstTimestamp: Int64

    /// A cell holding one value.
    public init(_ value: Double, at timestamp: Int64) {
        min = value
        max = value
        sum = value
        count = 1
        firstTimestamp = timestamp
    }

    /// A cell with the given aggregates.
    public init(min: Double, max: Double, sum: Double, count: Int64, firstTimestamp: Int64) {
        self.min = min
        self.max = max
        self.sum = sum
        self.count = count
        self.firstTimestamp = firstTimestamp
    }

    /// The mean of the values.
    public var mean: Double { sum / Double(Swift.max(count, 1)) }

    /// Adds another cell's values to this one.
    public mutating func merge(_ other: RollupCell) {
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        sum += other.sum
        count += other.count
        firstTimestamp = Swift.min(firstTimestamp, other.firstTimestamp)
    }
}

/// Where a cell belongs: one value of one device in one time cell.
public struct RollupKey: Sendable, Hashable {
    /// Gateway id.
    public var gateway: String
    /// Device id.
    public var device: String
    /// Start of the cell, ms since 1970 (a multiple of the resolution).
    public var bucket: Int64
    /// Value name.
    public var name: String
}

/// Folds a batch of readings into rollup cells before they are written, so that a batch of 1,000
/// readings of one device costs one upsert per value and minute, not one per reading.
///
/// Only finite numbers (floats and integers) are rolled up; strings, booleans and bytes are not.
public struct RollupAccumulator: Sendable {
    /// Cell width.
    public let resolution: RollupResolution
    /// Cells in first-seen order, so that the upserts are deterministic.
    public private(set) var cells: [(key: RollupKey, cell: RollupCell)] = []
    private var index: [RollupKey: Int] = [:]

    /// An empty accumulator.
    public init(resolution: RollupResolution) {
        self.resolution = resolution
    }

    /// Folds in one reading's numeric values.
    public mutating func add(_ reading: Reading) {
        let width = resolution.milliseconds
        let bucket = Self.floor(reading.timestamp, width)
        for named in reading.values {
            guard let number = Self.number(named.value) else { continue }
            let key = RollupKey(gateway: reading.gateway, device: reading.device, bucket: bucket, name: named.name)
            let cell = RollupCell(number, at: reading.timestamp)
            if let position = index[key] {
                cells[position].cell.merge(cell)
            } else {
                index[key] = cells.count
                cells.append((key, cell))
            }
        }
    }

    /// The number a value rolls up as, or nil.
    static func number(_ value: WireValue) -> Double? {
        switch value {
        case .float(let number): number.isFinite ? number : nil
        case .integer(let number): Double(number)
        case .string, .boolean, .bytes: nil
        }
    }

    /// `value` rounded down to a multiple of `width` (also for negative values). A timestamp comes
    /// from the gateway: one within `width` of `Int64.min` gets the lowest bucket instead of trapping.
    static func floor(_ value: Int64, _ width: Int64) -> Int64 {
        let remainder = value % width
        guard remainder < 0 else { return value - remainder }
        let (bucket, overflow) = (value - remainder).subtractingReportingOverflow(width)
        return overflow ? Int64.min : bucket
    }
}

/// One bucket of downsampled history: per value its min, max, mean and count.
public struct HistoryBucket: Sendable, Hashable {
    /// Start of the bucket, ms since 1970 (a multiple of the step).
    public var timestamp: Int64
    /// Aggregates by value name, in name order.
    public var values: [(name: String, cell: RollupCell)]

    /// Creates a bucket.
    public init(timestamp: Int64, values: [(name: String, cell: RollupCell)]) {
        self.timestamp = timestamp
        self.values = values
    }

    public static func == (lhs: HistoryBucket, rhs: HistoryBucket) -> Bool {
        lhs.timestamp == rhs.timestamp && lhs.values.elementsEqual(rhs.values, by: { $0.name == $1.name && $0.cell == $1.cell })
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(timestamp)
        hasher.combine(values.count)
    }
}
