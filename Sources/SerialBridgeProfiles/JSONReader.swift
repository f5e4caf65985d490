/// Walks a ``JSONValue`` object while tracking its JSON path, collecting every error rather than
/// stopping at the first, and flagging keys nobody asked for (usually typos).
public struct JSONObjectReader {
    /// The file being read, for error messages.
    public let file: String
    /// The JSON path of this object.
    public let path: String
    private let fields: [String: JSONValue]
    private var consumed: Set<String> = []
    /// Errors found so far, shared with child readers through ``finish(into:)``.
    public private(set) var errors: [ProfileError] = []

    /// Reads `value` as an object; records an error and reads nothing when it is not one.
    public init(_ value: JSONValue, file: String, path: String) {
        self.file = file
        self.path = path
        if case .object(let object) = value {
            fields = object
        } else {
            fields = [:]
            errors.append(ProfileError(file: file, path: path, message: "must be an object, not \(value.typeName)"))
        }
    }

    /// The path of a key of this object.
    public func path(of key: String) -> String { "\(path).\(key)" }

    /// Records an error at `path`.
    public mutating func fail(_ path: String, _ message: String) {
        errors.append(ProfileError(file: file, path: path, message: message))
    }

    /// The raw value at `key`, marking it as known.
    public mutating func value(_ key: String) -> JSONValue? {
        consumed.insert(key)
        return fields[key]
    }

    /// A required or optional string.
    public mutating func string(_ key: String, required: Bool = false) -> String? {
        switch value(key) {
        case .none:
            if required { fail(path(of: key), "is required") }
            return nil
        case .string(let text)?:
            return text
        case let other?:
            fail(path(of: key), "must be a string, not \(other.typeName)")
            return nil
        }
    }

    /// An integer within `range`.
    public mutating func integer(_ key: String, in range: ClosedRange<Int>, required: Bool = false) -> Int? {
        switch value(key) {
        case .none:
            if required { fail(path(of: key), "is required") }
            return nil
        case .number(let number)?:
            guard number.rounded() == number, let int = Int(exactly: number), range.contains(int) else {
                fail(path(of: key), "must be an integer from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return int
        case let other?:
            fail(path(of: key), "must be an integer from \(range.lowerBound) to \(range.upperBound), not \(other.typeName)")
            return nil
        }
    }

    /// A number (integer or fraction).
    public mutating func number(_ key: String, required: Bool = false) -> Double? {
        switch value(key) {
        case .none:
            if required { fail(path(of: key), "is required") }
            return nil
        case .number(let number)?:
            return number
        case let other?:
            fail(path(of: key), "must be a number, not \(other.typeName)")
            return nil
        }
    }

    /// One of a fixed set of strings.
    public mutating func choice<T: RawRepresentable>(_ key: String, _ type: T.Type, required: Bool = false) -> T?
    where T.RawValue == String, T: CaseIterable {
        guard let text = string(key, required: required) else { return nil }
        guard let choice = T(rawValue: text) else {
            let allowed = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            fail(path(of: key), "must be one of \(allowed), not \"\(text)\"")
            return nil
        }
        return choice
    }

    /// A child object reader at `key`, or nil (with an error if `required`) when absent.
    public mutating func object(_ key: String, required: Bool = false) -> JSONObjectReader? {
        guard let child = value(key) else {
            if required { fail(path(of: key), "is required") }
            return nil
        }
        return JSONObjectReader(child, file: file, path: path(of: key))
    }

    /// The array at `key` with each element's path, or nil (with an error if `required`).
    public mutating func array(_ key: String, required: Bool = false) -> [(value: JSONValue, path: String)]? {
        switch value(key) {
        case .none:
            if required { fail(path(of: key), "is required") }
            return nil
        case .array(let items)?:
            return items.enumerated().map { ($0.element, "\(path(of: key))[\($0.offset)]") }
        case let other?:
            fail(path(of: key), "must be an array, not \(other.typeName)")
            return nil
        }
    }

    /// The keys of this object, sorted, for maps such as `{"temperature": {...}}`.
    public var keys: [String] { fields.keys.sorted() }

    /// Adds a child's errors to this reader's.
    public mutating func absorb(_ child: JSONObjectReader) {
        errors.append(contentsOf: child.finish())
    }

    /// Ends reading: reports every key that was never asked for, and returns all errors.
    public func finish() -> [ProfileError] {
        var result = errors
        for key in fields.keys.sorted() where !consumed.contains(key) {
            result.append(ProfileError(file: file, path: path(of: key), message: "unknown key"))
        }
        return result
    }
}
