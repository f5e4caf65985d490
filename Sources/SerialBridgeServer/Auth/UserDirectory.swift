import SerialBridgeJSON
import HummingbirdBcrypt
import Logging
import NIOPosix

/// The people who may log in: the users file, followed for changes like the token file (a user
/// added or removed takes effect at once), and bcrypt verification off the async threads.
final class UserDirectory: Sendable {
    private let file: WatchedFile<[String: String]>

    /// Loads the users file.
    /// - Throws: ``ServerConfigError`` naming the file and line of a bad entry.
    init(file path: String) throws(ServerConfigError) {
        file = try WatchedFile(path: path) { path throws(ServerConfigError) in
            let bytes: [UInt8]
            do {
                bytes = try FileContents.read(path)
            } catch {
                throw ServerConfigError("\(path): cannot read users file: \(error) (create it with `serialbridge-server users add NAME --users \(path)`)")
            }
            let users = try UserFile.parse(String(decoding: bytes, as: UTF8.self), file: path).users
            return Dictionary(users.map { ($0.name, $0.hash) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// The file's path.
    var path: String { file.path }

    /// Number of users now.
    func count(logger: Logger?) -> Int { file.current(logger: logger).value.count }

    /// Whether `name` is (still) a user.
    func contains(_ name: String, logger: Logger?) -> Bool { file.current(logger: logger).value[name] != nil }

    /// Checks a password. bcrypt takes a deliberate quarter second or so, so it runs on NIO's
    /// blocking thread pool rather than on the few threads every request shares.
    ///
    /// An unknown name is checked against another user's hash and refused all the same, so the
    /// answer takes as long and timing does not tell which names exist.
    func verify(name: String, password: String, logger: Logger?) async -> Bool {
        let users = file.current(logger: logger).value
        guard !password.utf8.contains(0), let anyHash = users[name] ?? users.values.first else { return false }
        let known = users[name] != nil
        // htpasswd writes `$2y$`, which is bcrypt's `$2b$` under PHP's name; the C code knows only the latter.
        let hash = anyHash.hasPrefix("$2y$") ? "$2b$" + anyHash.dropFirst(4) : anyHash
        let matches = (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }) ?? false
        return known && matches
    }
}
