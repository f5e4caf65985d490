import SerialBridgeJSON
import HummingbirdBcrypt
import Logging
import NIOPosix

/// The people who may log in: the users file, followed for changes like the token file (a user
/// added or removed takes effect at once), and bcrypt verification off the async threads.
final class UserDirectory: Sendable {
    private enum Source: Sendable {
        case file(WatchedFile<[String: String]>)
        /// Read from PostgreSQL and refreshed by ``PostgresCredentials``.
        case database(CredentialSnapshot<[String: String]>)
    }

    private let source: Source

    /// Loads the users file.
    /// - Throws: ``ServerConfigError`` naming the file and line of a bad entry.
    init(file path: String) throws(ServerConfigError) {
        source = .file(try WatchedFile(path: path) { path throws(ServerConfigError) in
            let bytes: [UInt8]
            do {
                bytes = try FileContents.read(path)
            } catch {
                throw ServerConfigError("\(path): cannot read users file: \(error) (create it with `serialbridge-server users add NAME --users \(path)`)")
            }
            let users = try UserFile.parse(String(decoding: bytes, as: UTF8.self), file: path).users
            return Dictionary(users.map { ($0.name, $0.hash) }, uniquingKeysWith: { first, _ in first })
        })
    }

    /// Users that follow a snapshot refreshed from the database (name → bcrypt hash).
    init(following snapshot: CredentialSnapshot<[String: String]>) {
        source = .database(snapshot)
    }

    /// Where the users are, for messages: the file's path, or the database.
    var path: String {
        switch source {
        case .file(let file): file.path
        case .database: "the database's users table"
        }
    }

    /// The `users add` options that add a user where this directory reads them.
    var addOptions: String {
        switch source {
        case .file(let file): "--users \(file.path)"
        case .database: "--database URL"
        }
    }

    private func current(logger: Logger?) -> [String: String] {
        switch source {
        case .file(let file): file.current(logger: logger).value
        case .database(let snapshot): snapshot.current().value
        }
    }

    /// Number of users now.
    func count(logger: Logger?) -> Int { current(logger: logger).count }

    /// Whether `name` is (still) a user.
    func contains(_ name: String, logger: Logger?) -> Bool { current(logger: logger)[name] != nil }

    /// Checks a password. bcrypt takes a deliberate quarter second or so, so it runs on NIO's
    /// blocking thread pool rather than on the few threads every request shares.
    ///
    /// An unknown name is checked against another user's hash and refused all the same, so the
    /// answer takes as long and timing does not tell which names exist.
    func verify(name: String, password: String, logger: Logger?) async -> Bool {
        let users = current(logger: logger)
        guard !password.utf8.contains(0), let anyHash = users[name] ?? users.values.first else { return false }
        let known = users[name] != nil
        // htpasswd writes `$2y$`, which is bcrypt's `$2b$` under PHP's name; the C code knows only the latter.
        let hash = anyHash.hasPrefix("$2y$") ? "$2b$" + anyHash.dropFirst(4) : anyHash
        let matches = (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }) ?? false
        return known && matches
    }
}
