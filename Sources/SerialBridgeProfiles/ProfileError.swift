/// One mistake in a profile or config file, located by file and JSON path.
///
/// Printed as `FILE: JSON-PATH: message`, e.g.
/// `DeviceProfiles/x.json: $.framing.maxLength: must be an integer from 1 to 1048576`.
public struct ProfileError: Error, Sendable, Hashable, CustomStringConvertible {
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
public struct ProfileErrors: Error, Sendable, CustomStringConvertible {
    /// The mistakes, in the order they were found.
    public var errors: [ProfileError]

    /// Creates the error list.
    public init(_ errors: [ProfileError]) { self.errors = errors }

    /// One mistake per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
