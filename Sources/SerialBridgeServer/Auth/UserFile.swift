/// The users file, in Apache's htpasswd format with bcrypt hashes only: `NAME:$2y$12$…` (or `$2b$`,
/// `$2a$`), one per line, `#` comments. `htpasswd -B FILE NAME` and
/// `serialbridge-server users add NAME --users FILE` both write it.
public struct UserFile: Sendable, Equatable {
    /// A line, kept in order so that edits leave comments where they were.
    enum Line: Sendable, Equatable {
        case other(String)
        case user(name: String, hash: String)
    }

    var lines: [Line]

    /// Every user and their bcrypt hash, in file order.
    public var users: [(name: String, hash: String)] {
        lines.compactMap { if case .user(let name, let hash) = $0 { (name, hash) } else { nil } }
    }

    /// Parses a users file.
    /// - Throws: ``ServerConfigError`` naming `file`, the line and what is wrong (a hash that is not
    ///   bcrypt names the command that makes one).
    public static func parse(_ text: String, file: String) throws(ServerConfigError) -> UserFile {
        var lines: [Line] = []
        var rawLines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.isEmpty || text.hasSuffix("\n") { rawLines.removeLast() }
        var seen: Set<String> = []
        for (index, raw) in rawLines.enumerated() {
            let number = index + 1
            let content = raw.hasSuffix("\r") ? raw.dropLast() : raw
            let trimmed = content.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                lines.append(.other(String(content)))
                continue
            }
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw ServerConfigError("\(file):\(number): expected `NAME:BCRYPT-HASH` (as written by `htpasswd -B` or `serialbridge-server users add`)")
            }
            let name = String(trimmed[..<colon])
            let hash = String(trimmed[trimmed.index(after: colon)...]).trimmingTrailingSpace()
            if let problem = problem(userName: name) { throw ServerConfigError("\(file):\(number): \(problem)") }
            guard isBcrypt(hash) else {
                throw ServerConfigError(
                    "\(file):\(number): user \"\(name)\": only bcrypt hashes ($2y$, $2b$, $2a$) are accepted, this looks like \(kind(of: hash)); "
                        + "set the password again with `htpasswd -B \(file) \(name)` or `serialbridge-server users add \(name) --update --users \(file)`"
                )
            }
            guard seen.insert(name).inserted else { throw ServerConfigError("\(file):\(number): user \"\(name)\" appears twice") }
            lines.append(.user(name: name, hash: hash))
        }
        return UserFile(lines: lines)
    }

    /// Why `name` cannot be a user name, or nil (1–64 visible characters, no `:`).
    public static func problem(userName name: some StringProtocol) -> String? {
        if name.isEmpty || name.count > 64 { return "a user name has 1 to 64 characters" }
        if name.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || $0 == ":" }) {
            return "user name \"\(name)\" contains a space, control character or `:`"
        }
        return nil
    }

    /// A bcrypt hash as htpasswd, PHP and OpenBSD write it: `$2?$NN$` and 53 characters of salt and hash.
    static func isBcrypt(_ hash: String) -> Bool {
        let bytes = Array(hash.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
              [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]), bytes[3] == UInt8(ascii: "$"),
              let cost = Int(String(decoding: bytes[4...5], as: UTF8.self)), (4...31).contains(cost), bytes[6] == UInt8(ascii: "$")
        else { return false }
        return true
    }

    private static func kind(of hash: String) -> String {
        if hash.hasPrefix("$apr1$") { return "Apache MD5 (htpasswd -m)" }
        if hash.hasPrefix("{SHA}") { return "SHA-1 (htpasswd -s)" }
        if hash.hasPrefix("$5$") || hash.hasPrefix("$6$") { return "SHA-crypt (htpasswd -2/-5)" }
        if hash.hasPrefix("$2") { return "a damaged bcrypt hash" }
        return "crypt or plaintext"
    }

    /// The file's text.
    public func rendered() -> String {
        lines.map { line in
            switch line {
            case .other(let text): text
            case .user(let name, let hash): "\(name):\(hash)"
            }
        }.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }

    /// Sets `name`'s hash, adding the user when new; returns whether the user existed.
    mutating func set(_ name: String, hash: String) -> Bool {
        for index in lines.indices {
            if case .user(name, _) = lines[index] {
                lines[index] = .user(name: name, hash: hash)
                return true
            }
        }
        lines.append(.user(name: name, hash: hash))
        return false
    }

    /// Removes `name`; returns whether the user existed.
    mutating func remove(_ name: String) -> Bool {
        guard let index = lines.firstIndex(where: { if case .user(name, _) = $0 { true } else { false } }) else { return false }
        lines.remove(at: index)
        return true
    }

    func hashOf(_ name: String) -> String? {
        users.first { $0.name == name }?.hash
    }
}

extension String {
    func trimmingTrailingSpace() -> String {
        var text = self
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
