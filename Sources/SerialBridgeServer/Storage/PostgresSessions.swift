import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Dashboard sessions kept in PostgreSQL (`dashboard_sessions`), so that every server instance on
/// the database accepts a session whichever instance created it, and a logout on one ends it on
/// all (docs/SECURITY.md, "Sessions in PostgreSQL").
///
/// Only the SHA-256 of the cookie value is stored. Idle and absolute expiry are checked in SQL
/// against the database's clock (the instances' monotonic clocks are not comparable). To keep a
/// request's cost low, a positive lookup is remembered for ``cacheFor`` (never past the session's
/// absolute expiry), and `last_seen` is written at most every ``touchEvery``: so a logout or a
/// removal on another instance is in force here within ``cacheFor``, and idle expiry is exact to
/// within ``touchEvery``.
public final class PostgresSessions: SessionStore {
    /// How long a positive lookup is trusted without asking the database.
    public let cacheFor: Duration
    /// The least time between two writes of a session's `last_seen`.
    public let touchEvery: Duration
    private let limits: SessionTable.Limits
    private let clock: AuthClock
    private let client: PostgresClient
    private let logger: Logger
    private let cache = Mutex<[[UInt8]: Cached]>([:])

    private struct Cached {
        var user: String
        /// On ``clock``.
        var until: Duration
    }

    /// Sessions in `storage`'s database (migrated; its pool running when they are used).
    public init(
        storage: PostgresStorage, limits: SessionTable.Limits, clock: AuthClock = .system,
        cacheFor: Duration = .seconds(2), touchEvery: Duration = .seconds(60)
    ) {
        client = storage.client
        logger = storage.logger
        self.limits = limits
        self.clock = clock
        self.cacheFor = cacheFor
        self.touchEvery = touchEvery
    }

    /// Records a new session (sweeping expired ones first); throws when the database cannot be reached.
    public func create(user: String) async throws -> String {
        let id = Secret.random()
        let key = Secret.sha256(id)
        let idle = Self.seconds(limits.idle)
        let lifetime = Self.seconds(limits.lifetime)
        try await client.query(
            """
            DELETE FROM dashboard_sessions
            WHERE last_seen <= now() - make_interval(secs => \(idle)) OR created <= now() - make_interval(secs => \(lifetime))
            """,
            logger: logger
        )
        try await client.query("INSERT INTO dashboard_sessions (hash, user_name) VALUES (\(ByteBuffer(bytes: key)), \(user))", logger: logger)
        remember(key, user: user, remaining: limits.lifetime)
        return id
    }

    /// The session's user: from the cache, else from the database (renewing `last_seen` when it is
    /// older than ``touchEvery``). Nil for an unknown or expired session, and when the database
    /// cannot be reached (logged): a session is never accepted unchecked.
    public func user(for id: String) async -> String? {
        let key = Secret.sha256(id)
        let now = clock.now()
        let hit: String? = cache.withLock { cache in
            guard let cached = cache[key] else { return nil }
            if cached.until > now { return cached.user }
            cache.removeValue(forKey: key)
            return nil
        }
        if let hit { return hit }
        let idle = Self.seconds(limits.idle)
        let lifetime = Self.seconds(limits.lifetime)
        do {
            let rows = try await client.query(
                """
                SELECT user_name, extract(epoch FROM now() - last_seen)::float8,
                       extract(epoch FROM created + make_interval(secs => \(lifetime)) - now())::float8
                FROM dashboard_sessions
                WHERE hash = \(ByteBuffer(bytes: key))
                  AND last_seen > now() - make_interval(secs => \(idle)) AND created > now() - make_interval(secs => \(lifetime))
                """,
                logger: logger
            )
            for try await (user, sinceSeen, remaining) in rows.decode((String, Double, Double).self) {
                if sinceSeen >= Self.seconds(touchEvery) {
                    try await client.query("UPDATE dashboard_sessions SET last_seen = now() WHERE hash = \(ByteBuffer(bytes: key))", logger: logger)
                }
                remember(key, user: user, remaining: .milliseconds(Int64(max(0, remaining) * 1000)))
                return user
            }
            return nil
        } catch {
            logger.error("PostgreSQL: cannot look up a dashboard session, refusing it: \(PostgresStorage.reason(error))")
            return nil
        }
    }

    /// Ends a session on every instance (the others' caches let it go within ``cacheFor``).
    public func remove(_ id: String) async {
        let key = Secret.sha256(id)
        _ = cache.withLock { $0.removeValue(forKey: key) }
        do {
            try await client.query("DELETE FROM dashboard_sessions WHERE hash = \(ByteBuffer(bytes: key))", logger: logger)
        } catch {
            logger.error("PostgreSQL: cannot end a dashboard session: \(PostgresStorage.reason(error))")
        }
    }

    /// Ends every session of `user` on every instance.
    public func removeAll(of user: String) async {
        cache.withLock { cache in cache = cache.filter { $0.value.user != user } }
        do {
            try await client.query("DELETE FROM dashboard_sessions WHERE user_name = \(user)", logger: logger)
        } catch {
            logger.error("PostgreSQL: cannot end the dashboard sessions of \"\(user)\": \(PostgresStorage.reason(error))")
        }
    }

    private func remember(_ key: [UInt8], user: String, remaining: Duration) {
        let now = clock.now()
        cache.withLock { cache in
            // Bounded like the in-memory table: drop the stale entries, then everything if still full.
            if cache.count >= limits.maxSessions {
                cache = cache.filter { $0.value.until > now }
                if cache.count >= limits.maxSessions { cache.removeAll() }
            }
            cache[key] = Cached(user: user, until: now + min(cacheFor, remaining))
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
