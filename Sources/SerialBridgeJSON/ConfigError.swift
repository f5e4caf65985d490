/// One mistake in a profile or config file, located by file and JSON path.
///
/// Printed as `FILE: JSON-PATH: message`, e.g.
/// `DeviceProfiles/x.json: $.framing.length.width: must be 1, 2 or 4`.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file the mistake is in.
    public var file: String
    /// The JSON path of the offending value, `$` for the whole document.
    public var path: String
    /// What is wrong and, where it helps, what is expected.
    public var message: String

    /// Creates an error.
    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    /// `FILE: JSON-PATH: message`.
    public var description: String { "\(file): \(path): \(message)" }
}

/// Every mistake found in one or more files; loading reports them all at once.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    /// The mistakes, in the order they were found.
    public var errors: [ConfigError]

    /// Creates the error list.
    public init(_ errors: [ConfigError]) { self.errors = errors }

    /// One mistake per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Reading a JSON document from a file, with syntax errors located by line and column.
public enum JSONDocument {
    /// Reads and parses `file`.
    /// - Throws: ``ConfigErrors`` with one entry at `$` for an unreadable file or invalid JSON.
    public static func load(file: String) throws(ConfigErrors) -> JSONNode {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(file)
        } catch {
            throw ConfigErrors([ConfigError(file: file, path: "$", message: "cannot read file: \(error)")])
        }
        return try parse(bytes, file: file)
    }

    /// Parses `bytes`; `file` only names them in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws(ConfigErrors) -> JSONNode {
        do {
            return try JSONParser.parse(bytes)
        } catch {
            var line = 1
            var column = 1
            for byte in bytes.prefix(error.offset) {
                if byte == 0x0A {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
            }
            throw ConfigErrors([ConfigError(file: file, path: "$", message: "not valid JSON: \(error.reason) at line \(line), column \(column)")])
        }
    }
}
