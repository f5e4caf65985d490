/// Walks a ``JSONNode`` object while tracking its JSON path, collecting every error rather than
/// stopping at the first, and flagging keys nobody asked for (usually typos).
///
/// Each plugin (framer, decoder, checksum) reads its own section with one of these, so adding a
/// plugin never touches a central schema.
public struct JSONObjectReader {
    /// The file being read, for error messages.
    public let file: String
    /// The JSON path of this object.
    public let path: String
    private let fields: [(String, JSONNode)]
    private var consumed: Set<String> = []
    private var errors: [ConfigError] = []

    /// Reads `value` as an object; records an error and reads nothing when it is not one.
    public init(_ value: JSONNode, file: String, path: String) {
        self.file = file
        self.path = path
        if case .object(let object) = value {
            fields = object
            var seen: Set<String> = []
            for (key, _) in object where !seen.insert(key).inserted {
                errors.append(ConfigError(file: file, path: "\(path).\(key)", message: "key appears more than once"))
            }
        } else {
            fields = []
            errors.append(ConfigError(file: file, path: path, message: "must be an object, not \(value.typeName)"))
        }
    }

    /// The path of a key of this object.
    public func path(of key: String) -> String { "\(path).\(key)" }

    /// Records an error at `path`.
    public mutating func fail(_ path: String, _ message: String) {
        errors.append(ConfigError(file: file, path: path, message: message))
    }

    /// Records an error at `key` of this object.
    public mutating func fail(key: String, _ message: String) {
        fail(path(of: key), message)
    }

    /// True when the object has `key` (without marking it read).
    public func has(_ key: String) -> Bool { fields.contains { $0.0 == key } }

    /// The raw value at `key`, marking it as known.
    public mutating func value(_ key: String) -> JSONNode? {
        consumed.insert(key)
        return fields.first { $0.0 == key }?.1
    }

    /// A required or optional string.
    public mutating func string(_ key: String, required: Bool = false) -> String? {
        switch value(key) {
        case .none:
            if required { fail(key: key, "is required") }
            return nil
        case .string(let text)?:
            return text
        case let other?:
            fail(key: key, "must be a string, not \(other.typeName)")
            return nil
        }
    }

    /// A boolean.
    public mutating func bool(_ key: String, required: Bool = false) -> Bool? {
        switch value(key) {
        case .none:
            if required { fail(key: key, "is required") }
            return nil
        case .bool(let flag)?:
            return flag
        case let other?:
            fail(key: key, "must be true or false, not \(other.typeName)")
            return nil
        }
    }

    /// An integer within `range`.
    public mutating func integer(_ key: String, in range: ClosedRange<Int>, required: Bool = false) -> Int? {
        let expectation = "must be an integer from \(range.lowerBound) to \(range.upperBound)"
        switch value(key) {
        case .none:
            if required { fail(key: key, "is required") }
            return nil
        case .integer(let number)?:
            guard let int = Int(exactly: number), range.contains(int) else {
                fail(key: key, expectation)
                return nil
            }
            return int
        case .float?:
            fail(key: key, expectation)
            return nil
        case let other?:
            fail(key: key, "\(expectation), not \(other.typeName)")
            return nil
        }
    }

    /// A number (integer or fraction).
    public mutating func number(_ key: String, required: Bool = false) -> Double? {
        switch value(key) {
        case .none:
            if required { fail(key: key, "is required") }
            return nil
        case .integer(let number)?:
            return Double(number)
        case .float(let number)?:
            return number
        case let other?:
            fail(key: key, "must be a number, not \(other.typeName)")
            return nil
        }
    }

    /// One of a fixed set of strings.
    public mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type, required: Bool = false) -> T?
    where T.RawValue == String {
        guard let text = string(key, required: required) else { return nil }
        guard let choice = T(rawValue: text) else {
            let allowed = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            fail(key: key, "must be one of \(allowed), not \"\(text)\"")
            return nil
        }
        return choice
    }

    /// A child object reader at `key`, or nil (with an error if `required`) when absent.
    /// Call ``absorb(_:)`` with it when done, so its errors and unknown keys are reported.
    public mutating func object(_ key: String, required: Bool = false) -> JSONObjectReader? {
        guard let child = value(key) else {
            if required { fail(key: key, "is required") }
            return nil
        }
        return JSONObjectReader(child, file: file, path: path(of: key))
    }

    /// The array at `key` with each element's path, or nil (with an error if `required`).
    public mutating func array(_ key: String, required: Bool = false) -> [(value: JSONNode, path: String)]? {
        switch value(key) {
        case .none:
            if required { fail(key: key, "is required") }
            return nil
        case .array(let items)?:
            return items.enumerated().map { ($0.element, "\(path(of: key))[\($0.offset)]") }
        case let other?:
            fail(key: key, "must be an array, not \(other.typeName)")
            return nil
        }
    }

    /// The keys of this object, in document order, for maps such as `{"temperature": {...}}`.
    public var keys: [String] { fields.map(\.0) }

    /// Adds a child's errors (and its unknown keys) to this reader's.
    public mutating func absorb(_ child: JSONObjectReader) {
        errors.append(contentsOf: child.finish())
    }

    /// Adds errors found elsewhere.
    public mutating func absorb(_ more: [ConfigError]) {
        errors.append(contentsOf: more)
    }

    /// True while no error has been recorded (unknown keys are only found by ``finish()``).
    public var isClean: Bool { errors.isEmpty }

    /// Ends reading: reports every key that was never asked for, and returns all errors.
    public func finish() -> [ConfigError] {
        var result = errors
        for (key, _) in fields where !consumed.contains(key) {
            result.append(ConfigError(file: file, path: path(of: key), message: "unknown key"))
        }
        return result
    }
}

extension JSONNode {
    /// The JSON type name used in error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .float: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
