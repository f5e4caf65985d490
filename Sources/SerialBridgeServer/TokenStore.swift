import Logging
import SerialBridgeJSON
import Synchronization

/// Gateway tokens: which gateway a bearer token authenticates. A token authenticates exactly one
/// gateway id: a gateway cannot speak for another.
///
/// Only hashes are kept (see ``GatewayTokenFile``). SHA-256, unsalted and fast, is the right hash
/// here and bcrypt would be the wrong one: tokens are 256 random bits made by
/// `tokens add`, so nobody can guess one from its hash however fast the hash is, and a salt only
/// defends low-entropy secrets against precomputed tables. A slow hash would add CPU time to every
/// gateway connect (hundreds reconnecting after a server restart) without making any token harder
/// to find. People's passwords are different and use bcrypt (``UserDirectory``).
///
/// A store loaded from a file follows it: every check first looks whether the file changed (a
/// `stat`) and re-reads it if so, so `tokens add` and `tokens revoke` take effect without a restart.
public final class TokenStore: Sendable {
    private enum Source: Sendable {
        case memory([GatewayTokenFile.Entry])
        case file(WatchedFile<[GatewayTokenFile.Entry]>)
        /// Read from PostgreSQL and refreshed by ``PostgresCredentials``.
        case database(CredentialSnapshot<[GatewayTokenFile.Entry]>)
    }

    private let source: Source
    /// The hash that last authenticated each gateway, so revoking it can close that connection.
    private let lastAccepted = Mutex<[String: [UInt8]]>([:])

    /// Creates a fixed in-memory store from `(gateway, token)` pairs (tests and benchmarks).
    public init(_ pairs: [(gateway: String, token: String)]) {
        source = .memory(pairs.map { .init(gateway: $0.gateway, hash: Secret.sha256($0.token), created: "", revoked: nil) })
    }

    private init(watching file: WatchedFile<[GatewayTokenFile.Entry]>) {
        source = .file(file)
    }

    /// A store that follows a snapshot refreshed from the database.
    init(following snapshot: CredentialSnapshot<[GatewayTokenFile.Entry]>) {
        source = .database(snapshot)
    }

    /// Loads a token file written by `serialbridge-server tokens add`, and follows its changes.
    /// - Throws: ``ServerConfigError`` naming the file and line of a malformed or plaintext entry.
    public static func load(file: String) throws(ServerConfigError) -> TokenStore {
        TokenStore(watching: try WatchedFile(path: file) { path throws(ServerConfigError) in
            let bytes: [UInt8]
            do {
                bytes = try FileContents.read(path)
            } catch {
                throw ServerConfigError(
                    "\(path): cannot read token file: \(error) (create it with `serialbridge-server tokens add GATEWAY --tokens \(path)`)"
                )
            }
            return try GatewayTokenFile.parse(String(decoding: bytes, as: UTF8.self), file: path).entries
        })
    }

    /// The file this store follows, nil for an in-memory store.
    public var file: String? {
        if case .file(let watched) = source { watched.path } else { nil }
    }

    /// Whether the tokens can change while the server runs (a file or the database), so that the
    /// server watches for revocations of connected gateways.
    public var followsChanges: Bool {
        if case .memory = source { false } else { true }
    }

    /// The entries in force (re-reading a changed file first) and a number that grows whenever they
    /// were reloaded.
    public func entries(logger: Logger? = nil) -> (entries: [GatewayTokenFile.Entry], generation: Int) {
        switch source {
        case .memory(let entries): return (entries, 0)
        case .file(let watched):
            let current = watched.current(logger: logger)
            return (current.value, current.generation)
        case .database(let snapshot):
            let current = snapshot.current()
            return (current.value, current.generation)
        }
    }

    /// The outcome of checking an `Authorization` header.
    public enum Verdict: Sendable, Equatable {
        case accepted(gateway: String)
        case refused(reason: String)
    }

    /// Checks an `Authorization: Bearer TOKEN` header value.
    ///
    /// The presented token is hashed and compared with every stored hash in constant time (no early
    /// exit), so timing reveals neither a partial match nor which entry matched.
    /// - Parameter logger: where a changed file's reload, or its parse error, is logged.
    public func check(authorization: String?, logger: Logger? = nil) -> Verdict {
        guard let authorization, !authorization.isEmpty else { return .refused(reason: "missing Authorization header") }
        guard authorization.hasPrefix("Bearer ") else { return .refused(reason: "Authorization header is not a Bearer token") }
        let token = authorization.dropFirst("Bearer ".count).trimmingPrefix(while: { $0 == " " })
        let presented = Secret.sha256(token)
        var match: GatewayTokenFile.Entry?
        for entry in entries(logger: logger).entries where Secret.constantTimeEquals(entry.hash, presented) {
            match = entry
        }
        guard let match else { return .refused(reason: "unknown token") }
        if let revoked = match.revoked {
            return .refused(reason: "the token of gateway \"\(match.gateway)\" was revoked at \(revoked)")
        }
        lastAccepted.withLock { $0[match.gateway] = match.hash }
        return .accepted(gateway: match.gateway)
    }

    /// Gateways whose last accepted token has since been revoked or removed from the file; each is
    /// reported once (until it is accepted again).
    func revokedSinceAccepted(logger: Logger?) -> [String] {
        let active = Set(entries(logger: logger).entries.filter { $0.revoked == nil }.map(\.hash))
        return lastAccepted.withLock { accepted in
            let revoked = accepted.filter { !active.contains($0.value) }.map(\.key)
            for gateway in revoked { accepted.removeValue(forKey: gateway) }
            return revoked.sorted()
        }
    }
}

extension Substring {
    func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        var slice = self
        while let first = slice.first, predicate(first) { slice = slice.dropFirst() }
        return slice
    }
}

/// A server setting or file is wrong.
public struct ServerConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, with file and line where known.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
