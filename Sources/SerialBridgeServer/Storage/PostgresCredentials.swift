import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Gateway tokens and users kept in PostgreSQL, shared by every server instance on the database
/// (docs/SECURITY.md, "Tokens and users in PostgreSQL").
///
/// Checks never wait for the database: the tables are held in memory (``tokens``, ``users``) and
/// this service polls one row, `auth_revision`, every ``interval``; triggers bump its `tokens` or
/// `users` counter at any change to the table, and only a changed table is read again. So a token
/// revoked or a user removed on any instance, or with `serialbridge-server tokens|users … --database`,
/// is in force everywhere within one interval, and the server's revocation watcher then closes the
/// revoked gateway's connection on whichever instance holds it. When the database cannot be
/// reached, the last tables read stay in force (and this is logged once), as with a broken file.
public final class PostgresCredentials: Service, Sendable {
    /// The gateway tokens, as the server checks them.
    public let tokens: TokenStore
    let users: UserDirectory
    /// How often the revision row is read.
    public let interval: Duration
    private let tokenSnapshot: CredentialSnapshot<[GatewayTokenFile.Entry]>
    private let userSnapshot: CredentialSnapshot<[String: String]>
    private let client: PostgresClient
    private let logger: Logger

    private init(storage: PostgresStorage, revision: Revision, tokens: [GatewayTokenFile.Entry], users: [String: String], interval: Duration) {
        tokenSnapshot = CredentialSnapshot(tokens)
        userSnapshot = CredentialSnapshot(users)
        self.tokens = TokenStore(following: tokenSnapshot)
        self.users = UserDirectory(following: userSnapshot)
        self.interval = interval
        client = storage.client
        logger = storage.logger
        seen = .init(revision)
    }

    /// Reads both tables once (on a connection of its own: the storage's pool is not running yet)
    /// from a migrated database. Throws ``PostgresStorageError`` when it cannot.
    public static func load(storage: PostgresStorage, interval: Duration = .seconds(1)) async throws -> PostgresCredentials {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: storage.url.connectionConfiguration(), id: 0, logger: storage.logger)
        } catch {
            throw PostgresStorageError.unreachable(url: storage.url.description, reason: PostgresStorage.reason(error))
        }
        let query: Query = { try await connection.query($0, logger: storage.logger) }
        do {
            let revision = try await Revision.read(query)
            let credentials = PostgresCredentials(
                storage: storage, revision: revision, tokens: try await readTokens(query), users: try await readUsers(query), interval: interval
            )
            try? await connection.close()
            return credentials
        } catch {
            try? await connection.close()
            throw PostgresStorageError.unreachable(url: storage.url.description, reason: PostgresStorage.reason(error))
        }
    }

    /// Polls until graceful shutdown (the storage's pool must be running).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do { try await Task.sleep(for: self.interval) } catch { break }
                do {
                    try await self.refresh()
                    if failing { self.logger.notice("PostgreSQL: gateway tokens and users are followed again") }
                    failing = false
                } catch {
                    if !failing {
                        self.logger.error("PostgreSQL: cannot re-read gateway tokens and users, keeping the last ones read: \(PostgresStorage.reason(error))")
                    }
                    failing = true
                }
            }
        }
    }

    /// Re-reads the tables whose revision changed since the last read.
    func refresh() async throws {
        let query: Query = { try await self.client.query($0, logger: self.logger) }
        let revision = try await Revision.read(query)
        let previous = seen.withLock { $0 }
        if revision.tokens != previous.tokens {
            tokenSnapshot.replace(with: try await Self.readTokens(query))
            logger.notice("PostgreSQL: reloaded the gateway tokens")
        }
        if revision.users != previous.users {
            userSnapshot.replace(with: try await Self.readUsers(query))
            logger.notice("PostgreSQL: reloaded the users")
        }
        seen.withLock { $0 = revision }
    }

    private let seen: Mutex<Revision>

    typealias Query = @Sendable (PostgresQuery) async throws -> PostgresRowSequence

    /// The change counters of the two tables.
    struct Revision: Sendable, Equatable {
        var tokens: Int64
        var users: Int64

        static func read(_ query: Query) async throws -> Revision {
            for try await (tokens, users) in try await query("SELECT tokens, users FROM auth_revision").decode((Int64, Int64).self) {
                return Revision(tokens: tokens, users: users)
            }
            return Revision(tokens: 0, users: 0)
        }
    }

    static func readTokens(_ query: Query) async throws -> [GatewayTokenFile.Entry] {
        var entries: [GatewayTokenFile.Entry] = []
        let rows = try await query(#"SELECT gateway, hash, created, revoked FROM gateway_tokens ORDER BY created, gateway COLLATE "C""#)
        for try await (gateway, hash, created, revoked) in rows.decode((String, ByteBuffer, String, String?).self) {
            entries.append(.init(gateway: gateway, hash: Array(hash.readableBytesView), created: created, revoked: revoked))
        }
        return entries
    }

    static func readUsers(_ query: Query) async throws -> [String: String] {
        var users: [String: String] = [:]
        for try await (name, hash) in try await query("SELECT name, hash FROM server_users").decode((String, String).self) {
            users[name] = hash
        }
        return users
    }
}
