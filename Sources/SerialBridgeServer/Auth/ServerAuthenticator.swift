import HTTPTypes
import Logging
import Synchronization

/// The server's decisions about people: whether login is on, who a request's credentials name,
/// logging in and out, and who may open the `/live` WebSocket. The HTTP middleware, the login
/// routes and the WebSocket upgrade all ask this one object.
public final class ServerAuthenticator: Sendable {
    /// Whether people must log in.
    public enum Mode: Sendable, Equatable {
        /// Loopback only, no users, no admin token: whoever reaches the server may use it.
        case open
        /// Everything but the public paths needs a session or the admin token.
        case loginRequired
    }

    /// The session cookie's name.
    public static let cookieName = "sb_session"

    /// Whether login is on.
    public let mode: Mode
    /// Who may open `/live` and send cookie-authenticated writes.
    public let origins: OriginPolicy
    /// Logged-in browsers: in memory, or in PostgreSQL shared by every instance.
    public let sessions: any SessionStore
    let users: UserDirectory?
    private let adminToken: AdminToken?
    private let secureCookies: Bool
    private let sessionLifetime: Duration
    private let throttle: Mutex<LoginThrottle>
    private let clock: AuthClock
    private let logger: Logger

    /// Decides the mode and loads the users file.
    /// - Parameters:
    ///   - host: the address the server listens on.
    ///   - tls: whether the server terminates TLS (the cookie is then always `Secure`).
    /// - Throws: ``ServerConfigError`` when the server would listen beyond loopback with nobody
    ///   to log in, or for a bad users file or allowed origin.
    public init(options: AuthOptions, host: String, tls: Bool, logger: Logger) throws(ServerConfigError) {
        let users: UserDirectory?
        if let databaseUsers = options.databaseUsers {
            users = databaseUsers
        } else {
            users = try options.usersFile.map { path throws(ServerConfigError) in try UserDirectory(file: path) }
        }
        if users == nil && options.adminToken == nil {
            guard OriginPolicy.isLoopback(host) else {
                throw ServerConfigError(
                    "refusing to listen on \(host) without login: anyone who can reach it could read every reading and send commands. "
                        + "Add users (`serialbridge-server users add NAME --users FILE`, then `serve --users FILE`) "
                        + "or an admin token (`--admin-token-file FILE` or SERIALBRIDGE_ADMIN_TOKEN), "
                        + "or listen on 127.0.0.1 (e.g. behind a reverse proxy)"
                )
            }
            mode = .open
        } else {
            mode = .loginRequired
        }
        if let users, users.count(logger: nil) == 0, options.adminToken == nil {
            logger.warning("\(users.path) has no users yet: nobody can log in until `serialbridge-server users add NAME \(users.addOptions)`")
        }
        self.users = users
        adminToken = options.adminToken
        origins = try OriginPolicy(allowedOrigins: options.allowedOrigins)
        sessions = options.databaseSessions ?? SessionTable(limits: options.sessions, clock: options.clock)
        sessionLifetime = options.sessions.lifetime
        secureCookies = tls || options.secureCookies
        throttle = Mutex(options.throttle)
        clock = options.clock
        self.logger = logger
    }

    // MARK: Credentials

    /// What a request's credentials amount to.
    public enum Credentials: Sendable, Equatable {
        /// None were presented (or the session is unknown or expired).
        case none
        /// A valid session or the admin token.
        case identity(AuthIdentity)
        /// A bearer token that is not the admin token.
        case badBearer
        /// Too many failures from this client address; try again after the duration.
        case throttled(Duration)
    }

    /// Who the `Authorization` header or the session cookie names. A bearer token is checked first;
    /// a wrong one counts as a failed login for `client`.
    public func identify(authorization: String?, sessionID: String?, client: String) async -> Credentials {
        if let authorization, authorization.hasPrefix("Bearer ") {
            let presented = authorization.dropFirst("Bearer ".count).trimmingPrefix(while: { $0 == " " })
            let now = clock.now()
            if let wait = throttle.withLock({ $0.check(client, at: now) }) { return .throttled(wait) }
            if let adminToken, adminToken.matches(presented) {
                return .identity(AuthIdentity(user: AuthIdentity.adminTokenUser, method: .adminToken))
            }
            throttle.withLock { $0.recordFailure(client, at: now) }
            logger.warning("refused a bearer token from \(client): not the admin token")
            return .badBearer
        }
        return await session(sessionID).map(Credentials.identity) ?? .none
    }

    /// The identity of a live session, nil when there is none. A session whose user was removed
    /// from the users file ends here.
    public func session(_ id: String?) async -> AuthIdentity? {
        guard let id, let user = await sessions.user(for: id) else { return nil }
        if user != AuthIdentity.adminTokenUser, users?.contains(user, logger: logger) != true {
            await sessions.removeAll(of: user)
            return nil
        }
        return AuthIdentity(user: user, method: .session)
    }

    /// The session id in `Cookie` header values.
    public static func sessionID(cookieHeaders: [String]) -> String? {
        for header in cookieHeaders {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop(while: { $0 == " " })
                if trimmed.hasPrefix(cookieName + "=") { return String(trimmed.dropFirst(cookieName.count + 1)) }
            }
        }
        return nil
    }

    // MARK: Login and logout

    /// The outcome of a login attempt.
    public enum LoginOutcome: Sendable, Equatable {
        /// Logged in: set ``cookie(for:)``.
        case success(sessionID: String, user: String)
        /// Wrong name or password.
        case refused
        /// Too many failures from this address; retry after the duration.
        case throttled(Duration)
        /// Login is off (open server).
        case disabled
        /// The credentials were right but the session could not be recorded (database unreachable).
        case unavailable
    }

    /// Checks a name and password and starts a session. With an admin token configured, an empty
    /// name and the token as the password log in as ``AuthIdentity/adminTokenUser``.
    public func login(user: String, password: String, client: String) async -> LoginOutcome {
        guard mode == .loginRequired else { return .disabled }
        if let wait = throttle.withLock({ $0.check(client, at: clock.now()) }) {
            logger.warning("login from \(client) refused without checking: too many failures, retry in \(Self.seconds(wait)) s")
            return .throttled(wait)
        }
        var accepted: String?
        if user.isEmpty {
            if let adminToken, adminToken.matches(password) { accepted = AuthIdentity.adminTokenUser }
        } else if let users, await users.verify(name: user, password: password, logger: logger) {
            accepted = user
        }
        guard let accepted else {
            throttle.withLock { $0.recordFailure(client, at: clock.now()) }
            logger.warning("failed login for user \"\(user)\" from \(client)")
            return .refused
        }
        do {
            let sessionID = try await sessions.create(user: accepted)
            logger.info("user \"\(accepted)\" logged in from \(client)")
            return .success(sessionID: sessionID, user: accepted)
        } catch {
            logger.error("user \"\(accepted)\" could not log in from \(client): the session was not recorded: \(error)")
            return .unavailable
        }
    }

    /// The `Set-Cookie` value that carries a new session.
    public func cookie(for sessionID: String) -> String {
        "\(Self.cookieName)=\(sessionID); Path=/; HttpOnly; SameSite=Strict" + (secureCookies ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    public var expiredCookie: String {
        "\(Self.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (secureCookies ? "; Secure" : "")
    }

    // MARK: The /live WebSocket

    /// The outcome of checking a `/live` upgrade.
    public enum LiveAccess: Sendable, Equatable {
        case allowed(AuthIdentity)
        case refused(reason: String)
    }

    /// Checks a dashboard's WebSocket upgrade before it happens: the `Origin` (always), then, when
    /// login is on, a session cookie or the admin bearer token (browsers cannot set headers on a
    /// WebSocket, so the cookie is how they authenticate).
    public func checkLive(_ request: HTTPRequest, client: String) async -> LiveAccess {
        let host = request.authority ?? request.headerFields[HTTPField.Name("Host")!]
        let origin = request.headerFields[.origin]
        if case .refused(let why) = origins.check(origin: origin, host: host) { return .refused(reason: why) }
        switch mode {
        case .open:
            guard origins.acceptsOpenAccess(host: host) else {
                return .refused(reason: "Host \(host ?? "none") is not a loopback name (an open server answers only to those)")
            }
            return .allowed(.open)
        case .loginRequired:
            let sessionID = Self.sessionID(cookieHeaders: request.headerFields[values: .cookie])
            switch await identify(authorization: request.headerFields[.authorization], sessionID: sessionID, client: client) {
            case .identity(let identity): return .allowed(identity)
            case .badBearer: return .refused(reason: "the bearer token is not the admin token")
            case .throttled: return .refused(reason: "too many failed logins from this address")
            case .none:
                return .refused(reason: sessionID == nil ? "no session cookie (log in at /login) and no admin bearer token" : "the session expired or is unknown (log in at /login)")
            }
        }
    }

    static func seconds(_ duration: Duration) -> Int64 {
        duration.components.seconds + (duration.components.attoseconds > 0 ? 1 : 0)
    }
}
