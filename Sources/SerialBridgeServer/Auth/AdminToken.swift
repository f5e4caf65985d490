import SerialBridgeJSON

/// The admin token: one shared secret that works as `Authorization: Bearer TOKEN` on the API and
/// `/live` (for tools, scripts and Prometheus), and as the password with an empty user name on the
/// login page. Only its SHA-256 is kept in memory.
public struct AdminToken: Sendable {
    private let hash: [UInt8]

    /// Fewest characters accepted: a guessable admin token is worse than none.
    public static let minimumLength = 24

    /// Uses `token` (surrounding white space ignored).
    /// - Throws: ``ServerConfigError`` when it is shorter than ``minimumLength``; `origin` says where
    ///   it came from.
    public init(_ token: String, origin: String = "the admin token") throws(ServerConfigError) {
        let trimmed = token.trimmingSpace()
        guard trimmed.utf8.count >= Self.minimumLength else {
            throw ServerConfigError(
                "\(origin) has \(trimmed.utf8.count) characters; use at least \(Self.minimumLength) random ones, e.g. from `openssl rand -hex 32`"
            )
        }
        hash = Secret.sha256(trimmed)
    }

    /// Reads the token from a file (keep it mode 0600).
    /// - Throws: ``ServerConfigError`` naming the file.
    public static func load(file: String) throws(ServerConfigError) -> AdminToken {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(file, limit: 4096)
        } catch {
            throw ServerConfigError("\(file): cannot read admin token file: \(error)")
        }
        return try AdminToken(String(decoding: bytes, as: UTF8.self), origin: "admin token file \(file)")
    }

    /// Whether `presented` is the token; compares hashes in constant time.
    func matches(_ presented: some StringProtocol) -> Bool {
        Secret.constantTimeEquals(hash, Secret.sha256(presented))
    }
}

extension String {
    func trimmingSpace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
