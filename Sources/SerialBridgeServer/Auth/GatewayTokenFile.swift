/// The gateway token file: one line per issued token, holding only the token's SHA-256.
///
/// ```
/// # comments and blank lines are kept as they are
/// gw-1 sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 created=2026-05-01T12:00:00Z
/// gw-2 sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752 created=2026-05-01T12:00:00Z revoked=2026-05-03T08:00:00Z
/// ```
///
/// Parsing and editing are pure: ``GatewayTokenCommands`` reads and writes the file, the server's
/// ``TokenStore`` watches it.
public struct GatewayTokenFile: Sendable, Equatable {
    /// One issued token.
    public struct Entry: Sendable, Hashable {
        /// The gateway the token authenticates (and only that one).
        public var gateway: String
        /// SHA-256 of the token's UTF-8 bytes.
        public var hash: [UInt8]
        /// When it was issued, UTC ISO 8601.
        public var created: String
        /// When it was revoked; a revoked token is refused with that reason.
        public var revoked: String?

        /// The first 12 hex digits of ``hash``: shown by `tokens list`, accepted by
        /// `tokens revoke --fingerprint`; `printf %s TOKEN | sha256sum | cut -c1-12` gives the same.
        public var fingerprint: String { String(Secret.hex(hash).prefix(12)) }

        /// The line this entry is written as.
        var line: String {
            "\(gateway) sha256:\(Secret.hex(hash)) created=\(created)" + (revoked.map { " revoked=\($0)" } ?? "")
        }
    }

    /// A line of the file, kept in order so that edits leave comments where they were.
    enum Line: Sendable, Equatable {
        case other(String)
        case entry(Entry)
        /// A `GATEWAY TOKEN` line of the old plaintext format (only ``parse(_:file:allowPlaintext:)``
        /// with `allowPlaintext` keeps them, for `tokens migrate`).
        case plaintext(gateway: String, token: String, number: Int)
    }

    var lines: [Line]

    /// Every entry, revoked ones included, in file order.
    public var entries: [Entry] {
        lines.compactMap { if case .entry(let entry) = $0 { entry } else { nil } }
    }

    /// The comment a new file starts with.
    static let header = [
        "# SerialBridge gateway tokens: only SHA-256 hashes of the tokens are stored here.",
        "# Manage with `serialbridge-server tokens add|list|revoke GATEWAY --tokens FILE`.",
    ]

    /// Parses the text of a token file.
    /// - Throws: ``ServerConfigError`` naming `file` and the line; a plaintext line of the old
    ///   format names the command that replaces it.
    public static func parse(_ text: String, file: String, allowPlaintext: Bool = false) throws(ServerConfigError) -> GatewayTokenFile {
        var lines: [Line] = []
        var rawLines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // The final newline ends the last line; it does not start an empty one.
        if text.isEmpty || text.hasSuffix("\n") { rawLines.removeLast() }
        for (index, raw) in rawLines.enumerated() {
            let number = index + 1
            let content = raw.hasSuffix("\r") ? raw.dropLast() : raw
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first, !first.hasPrefix("#") else {
                lines.append(.other(String(content)))
                continue
            }
            let gateway = String(first)
            if let problem = Self.problem(gatewayID: gateway) {
                throw ServerConfigError("\(file):\(number): \(problem)")
            }
            guard words.count >= 2, words[1].hasPrefix("sha256:") else {
                if words.count == 2 {
                    if allowPlaintext {
                        lines.append(.plaintext(gateway: gateway, token: String(words[1]), number: number))
                        continue
                    }
                    throw ServerConfigError(
                        "\(file):\(number): a plaintext token for gateway \"\(gateway)\" (the old token file format); the server keeps only hashes now: "
                            + "run `serialbridge-server tokens migrate --tokens \(file)` to hash the file's plaintext tokens in place, "
                            + "or issue a new token with `serialbridge-server tokens add \(gateway) --tokens \(file)` and delete this line"
                    )
                }
                throw ServerConfigError("\(file):\(number): expected `GATEWAY-ID sha256:HASH created=TIME [revoked=TIME]`")
            }
            guard let hash = Secret.bytes(hex: words[1].dropFirst("sha256:".count)), hash.count == 32 else {
                throw ServerConfigError("\(file):\(number): the hash after `sha256:` must be 64 hex digits")
            }
            var entry = Entry(gateway: gateway, hash: hash, created: "", revoked: nil)
            for word in words.dropFirst(2) {
                let pair = word.split(separator: "=", maxSplits: 1)
                switch (pair.first, pair.count) {
                case ("created", 2): entry.created = String(pair[1])
                case ("revoked", 2): entry.revoked = String(pair[1])
                default: throw ServerConfigError("\(file):\(number): unexpected `\(word)`; only created=TIME and revoked=TIME may follow the hash")
                }
            }
            lines.append(.entry(entry))
        }
        return GatewayTokenFile(lines: lines)
    }

    /// Why `id` cannot be a gateway id, or nil when it can (1–128 visible characters, no `#`).
    public static func problem(gatewayID id: some StringProtocol) -> String? {
        if id.isEmpty || id.count > 128 { return "a gateway id has 1 to 128 characters" }
        if id.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || $0 == "#" }) {
            return "gateway id \"\(id)\" contains a space, control character or `#`"
        }
        return nil
    }

    /// The file's text.
    public func rendered() -> String {
        lines.map { line in
            switch line {
            case .other(let text): text
            case .entry(let entry): entry.line
            case .plaintext(let gateway, let token, _): "\(gateway) \(token)"
            }
        }.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }

    /// Appends an entry (a new file starts with the explanatory header).
    mutating func append(_ entry: Entry) {
        if entries.isEmpty && !lines.contains(where: { if case .other(let text) = $0 { text.hasPrefix("#") } else { false } }) {
            lines.append(contentsOf: Self.header.map(Line.other))
        }
        lines.append(.entry(entry))
    }

    /// Marks the matching unrevoked entries revoked at `time`; returns them.
    mutating func revoke(where matches: (Entry) -> Bool, at time: String) -> [Entry] {
        var revoked: [Entry] = []
        for index in lines.indices {
            guard case .entry(var entry) = lines[index], entry.revoked == nil, matches(entry) else { continue }
            entry.revoked = time
            lines[index] = .entry(entry)
            revoked.append(entry)
        }
        return revoked
    }
}
