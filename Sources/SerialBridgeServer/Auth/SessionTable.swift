import Synchronization

/// Logged-in browsers: random 256-bit session ids, each with an idle and an absolute expiry.
///
/// Kept in memory only: a server restart logs everyone out (the dashboard then shows the login
/// page). Used with SQLite; on PostgreSQL sessions are shared (``PostgresSessions``). Ids are stored by their SHA-256, so the table's lookups time nothing an attacker controls.
public final class SessionTable: Sendable {
    /// How long sessions last and how many are kept.
    public struct Limits: Sendable {
        /// A session unused this long ends.
        public var idle: Duration
        /// A session ends this long after login, used or not.
        public var lifetime: Duration
        /// At most this many sessions; the least recently used goes first beyond it.
        public var maxSessions: Int

        /// Creates limits; the defaults suit a dashboard kept open through a working day.
        public init(idle: Duration = .seconds(12 * 3600), lifetime: Duration = .seconds(7 * 86_400), maxSessions: Int = 10_000) {
            self.idle = idle
            self.lifetime = lifetime
            self.maxSessions = maxSessions
        }
    }

    private struct Session {
        var user: String
        var created: Duration
        var lastUsed: Duration
    }

    private let limits: Limits
    private let clock: AuthClock
    private let sessions = Mutex<[[UInt8]: Session]>([:])

    /// Creates an empty table.
    public init(limits: Limits = Limits(), clock: AuthClock = .system) {
        self.limits = limits
        self.clock = clock
    }

    /// Starts a session for `user`; returns its id (43 base64url characters, 256 random bits).
    public func create(user: String) -> String {
        let id = Secret.random()
        let now = clock.now()
        sessions.withLock { sessions in
            sessions = sessions.filter { !expired($0.value, at: now) }
            if sessions.count >= limits.maxSessions,
               let oldest = sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                sessions.removeValue(forKey: oldest)
            }
            sessions[Secret.sha256(id)] = Session(user: user, created: now, lastUsed: now)
        }
        return id
    }

    /// The user of a live session, renewing its idle time; nil for an unknown or expired id (an
    /// expired one is forgotten).
    public func user(for id: String) -> String? {
        let key = Secret.sha256(id)
        let now = clock.now()
        return sessions.withLock { sessions in
            guard var session = sessions[key] else { return nil }
            if expired(session, at: now) {
                sessions.removeValue(forKey: key)
                return nil
            }
            session.lastUsed = now
            sessions[key] = session
            return session.user
        }
    }

    /// Ends a session (logout).
    public func remove(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: Secret.sha256(id)) }
    }

    /// Ends every session of `user` (removed from the users file).
    public func removeAll(of user: String) {
        sessions.withLock { sessions in sessions = sessions.filter { $0.value.user != user } }
    }

    /// Number of sessions held, expired ones not yet swept included.
    public var count: Int { sessions.withLock { $0.count } }

    private func expired(_ session: Session, at now: Duration) -> Bool {
        now - session.lastUsed >= limits.idle || now - session.created >= limits.lifetime
    }
}
