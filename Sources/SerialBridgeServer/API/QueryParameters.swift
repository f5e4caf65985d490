/// The query parameters of one request, read with specific messages for bad values.
struct QueryParameters: Sendable {
    private let values: [(String, String)]

    /// Wraps decoded `name=value` pairs.
    init(_ pairs: [(String, String)]) {
        values = pairs
    }

    /// The value of `name`; a parameter given twice is refused rather than guessed at.
    func text(_ name: String) throws(APIError) -> String? {
        let matches = values.filter { $0.0 == name }
        guard matches.count <= 1 else { throw .badRequest("\(name) is given \(matches.count) times") }
        return matches.first?.1
    }

    /// True when `name` is present (with any value).
    func has(_ name: String) -> Bool { values.contains { $0.0 == name } }

    /// An integer from `range`, or nil when absent.
    func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text = try text(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .badRequest("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not \"\(text)\"")
        }
        return value
    }

    /// A time in ms since 1970, or nil when absent.
    func time(_ name: String) throws(APIError) -> Int64? {
        guard let text = try text(name) else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw .badRequest("\(name) must be a time in milliseconds since 1970 (a non-negative integer), not \"\(text)\"")
        }
        return value
    }

    /// A duration: ms as a bare integer, or a number with `s`, `m`, `h` or `d`; nil when absent.
    func duration(_ name: String) throws(APIError) -> Int64? {
        guard let text = try text(name) else { return nil }
        let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        let unit = units.first { text.hasSuffix($0.suffix) && Int64(text.dropLast($0.suffix.count)) != nil } ?? ("", 1)
        guard let count = Int64(text.dropLast(unit.suffix.count)), count > 0, count <= Int64.max / unit.milliseconds else {
            throw .badRequest("\(name) must be a positive duration: milliseconds, or a number with s, m, h or d (e.g. 5m), not \"\(text)\"")
        }
        return count * unit.milliseconds
    }
}
