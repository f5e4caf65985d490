import HTTPTypes
import Hummingbird
import Logging

/// Puts every HTTP request behind login when login is on; added to the router before any route.
///
/// - Public: `/healthz`, `/login`, `/logout` and `/gateway/v1…` (gateways have their own tokens).
/// - Otherwise a session cookie or the admin bearer token is needed. Without one, a browser asking
///   for a page is redirected to `/login?next=…`; anything else (the API) gets 401
///   `{"error":"login required"}`.
/// - A write (POST, PUT, DELETE…) authenticated by cookie must come from an allowed origin when it
///   says where it comes from: the cookie's SameSite=Strict already keeps other sites' requests
///   out in current browsers, this keeps them out in older ones too.
/// - On an open server every request passes as ``AuthIdentity/open``, but only under a loopback
///   `Host` (see ``OriginPolicy/acceptsOpenAccess(host:)``).
public struct AuthMiddleware: RouterMiddleware {
    /// The server's request context.
    public typealias Context = ServerRequestContext

    let authenticator: ServerAuthenticator

    /// Creates the middleware.
    public init(authenticator: ServerAuthenticator) {
        self.authenticator = authenticator
    }

    /// Authenticates the request, or answers for it.
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let path = request.uri.path
        let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!]
        if authenticator.mode == .open {
            guard authenticator.origins.acceptsOpenAccess(host: host) || Self.isGatewayPath(path) else {
                context.logger.warning("refused \(request.method) \(path) from \(context.clientAddress): Host \(host ?? "none") is not a loopback name")
                return AuthResponse.json(
                    .forbidden,
                    error: "this server has no login and answers only to loopback names (localhost, 127.0.0.1, [::1]) or an --allowed-origin host"
                )
            }
            context.auth = .open
            return try await next(request, context)
        }
        let sessionID = request.cookies[ServerAuthenticator.cookieName]?.value
        if Self.isPublic(path) {
            // Public routes may still want to know who is logged in (the login page does).
            context.auth = await authenticator.session(sessionID)
            return try await next(request, context)
        }
        switch await authenticator.identify(authorization: request.headers[.authorization], sessionID: sessionID, client: context.clientAddress) {
        case .throttled(let wait):
            return AuthResponse.json(
                .tooManyRequests, error: "too many failed logins from this address",
                headers: [.retryAfter: "\(ServerAuthenticator.seconds(wait))"]
            )
        case .badBearer:
            return AuthResponse.json(.unauthorized, error: "invalid bearer token", headers: [.wwwAuthenticate: "Bearer"])
        case .none:
            if Self.wantsPage(request) {
                return AuthResponse.redirect(to: "/login?next=" + AuthResponse.queryValue(AuthResponse.localPath(request.uri.description)))
            }
            return AuthResponse.json(.unauthorized, error: "login required", headers: [.wwwAuthenticate: "Bearer"])
        case .identity(let identity):
            if identity.method == .session, !Self.isSafe(request.method),
               case .refused(let why) = authenticator.origins.check(origin: request.headers[.origin], host: host) {
                context.logger.warning("refused \(request.method) \(path) of user \"\(identity.user)\" from \(context.clientAddress): \(why)")
                return AuthResponse.json(.forbidden, error: "cross-origin request refused: \(why)")
            }
            context.auth = identity
            return try await next(request, context)
        }
    }

    /// Paths anyone may reach. A path with `.` or `..` segments is never public, whatever it
    /// starts with.
    static func isPublic(_ path: String) -> Bool {
        if path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) { return false }
        return ["/healthz", "/login", "/logout"].contains(path) || isGatewayPath(path)
    }

    static func isGatewayPath(_ path: String) -> Bool {
        !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." })
            && (path == "/gateway/v1" || path.hasPrefix("/gateway/v1/"))
    }

    /// A browser navigating to a page (not a script calling the API).
    static func wantsPage(_ request: Request) -> Bool {
        guard request.method == .get || request.method == .head, !request.uri.path.hasPrefix("/api/") else { return false }
        return request.uri.path == "/" || (request.headers[.accept]?.contains("text/html") ?? false)
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options
    }
}
