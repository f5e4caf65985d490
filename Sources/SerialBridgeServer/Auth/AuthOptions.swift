/// How the server authenticates people (the `serve` options of the "Server security" section of
/// the README). Gateways authenticate with their own tokens (``TokenStore``).
///
/// Login is on when a users file or an admin token is configured, and then everything but
/// `/healthz`, `/login`, `/logout` and the gateway endpoints needs it. Without either, the server
/// must listen on loopback only, and is then open to whoever can reach that.
public struct AuthOptions: Sendable {
    /// htpasswd-format users file (bcrypt only), followed for changes.
    public var usersFile: String?
    /// Take the users from the PostgreSQL database instead of a file (`serve --database postgres://…`):
    /// every instance sharing it sees the same users, within a poll interval of a change. Needs a
    /// PostgreSQL ``ServerOptions/database``; excludes ``usersFile``; turns login on.
    public var usersFromDatabase = false
    /// The database's users, put here by ``ServerApplication`` when ``usersFromDatabase`` is set.
    var databaseUsers: UserDirectory?
    /// Sessions shared through the PostgreSQL database, put here by ``ServerApplication`` whenever
    /// the server runs on PostgreSQL; nil keeps them in memory (``SessionTable``).
    var databaseSessions: (any SessionStore)?
    /// The admin token (`--admin-token-file` or `SERIALBRIDGE_ADMIN_TOKEN`).
    public var adminToken: AdminToken?
    /// Origins allowed besides the same origin, e.g. `https://dashboard.example.org`.
    public var allowedOrigins: [String]
    /// Mark the session cookie `Secure` though the server speaks plain HTTP (behind a TLS proxy);
    /// it always is when the server terminates TLS itself.
    public var secureCookies: Bool
    /// Session idle and absolute expiry.
    public var sessions: SessionTable.Limits
    /// Failed-login throttling per client address.
    public var throttle: LoginThrottle
    /// Clock for sessions and throttling (tests inject a manual one).
    public var clock: AuthClock
    /// How often the token file is checked for revocations of connected gateways.
    public var tokenRecheckInterval: Duration
    /// How long a revoked gateway has to answer the close before its connection is cut.
    public var revocationGrace: Duration

    /// Creates options: no users, no admin token (an open server on loopback).
    public init(
        usersFile: String? = nil, adminToken: AdminToken? = nil, allowedOrigins: [String] = [], secureCookies: Bool = false,
        sessions: SessionTable.Limits = .init(), throttle: LoginThrottle = .init(), clock: AuthClock = .system,
        tokenRecheckInterval: Duration = .seconds(2), revocationGrace: Duration = .seconds(5)
    ) {
        self.usersFile = usersFile
        self.adminToken = adminToken
        self.allowedOrigins = allowedOrigins
        self.secureCookies = secureCookies
        self.sessions = sessions
        self.throttle = throttle
        self.clock = clock
        self.tokenRecheckInterval = tokenRecheckInterval
        self.revocationGrace = revocationGrace
    }
}
