import Hummingbird
import NIOCore

/// The request context of every HTTP route: Hummingbird's basics, the client's address and who is
/// logged in.
///
/// Routes read ``auth`` to know who asks. A route that acts on devices (commands, taps) must
/// require a logged-in user, in one line either way:
///
/// ```swift
/// // a whole group:
/// let group = router.group("/api/devices/{id}/commands").add(middleware: RequireUser())
/// // or inside a handler:
/// let user = try context.requireUser()   // throws 401 {"error": "login required"}
/// ```
///
/// On an open server (loopback, no users, no admin token) every request carries the identity
/// ``AuthIdentity/open``, which both accept: there is nobody to log in as.
public struct ServerRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Hummingbird's core context.
    public var coreContext: CoreRequestContextStorage
    /// The client's address (the proxy's, behind a reverse proxy).
    public let remoteAddress: SocketAddress?
    /// Who the request is authenticated as; nil when nobody (only public routes see that).
    public var auth: AuthIdentity?

    /// Creates the context for a new request.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        auth = nil
    }

    /// The logged-in identity.
    /// - Throws: ``LoginRequired`` (a 401 JSON response) when nobody is logged in.
    public func requireUser() throws(LoginRequired) -> AuthIdentity {
        guard let auth else { throw LoginRequired() }
        return auth
    }

    /// The client's address as text, for logs and throttling.
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// Who a request is authenticated as.
public struct AuthIdentity: Sendable, Hashable {
    /// How the request proved it.
    public enum Method: String, Sendable {
        /// A session cookie from `/login`.
        case session
        /// The admin token as a bearer token.
        case adminToken = "admin-token"
        /// Nobody needs to: the server is open (loopback, no users, no admin token).
        case open
    }

    /// The user name; "admin token" for the admin token (never a valid user name: it has a space),
    /// "anonymous" on an open server.
    public var user: String
    /// How it was proved.
    public var method: Method

    /// Creates an identity.
    public init(user: String, method: Method) {
        self.user = user
        self.method = method
    }

    /// The identity of every request on an open server.
    public static let open = AuthIdentity(user: "anonymous", method: .open)
    /// The user name sessions and bearer requests made with the admin token carry.
    public static let adminTokenUser = "admin token"
}

/// Nobody is logged in: answers 401 `{"error":"login required"}`.
public struct LoginRequired: HTTPResponseError {
    /// Creates the error.
    public init() {}
    /// 401.
    public var status: HTTPResponse.Status { .unauthorized }
    /// The JSON error response.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        AuthResponse.json(.unauthorized, error: "login required")
    }
}

/// Requires a logged-in user for the routes added after it: `group.add(middleware: RequireUser())`.
public struct RequireUser: RouterMiddleware {
    /// The server's request context.
    public typealias Context = ServerRequestContext

    /// Creates the middleware.
    public init() {}

    /// Answers 401 when nobody is logged in, else passes the request on.
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard context.auth != nil else { return AuthResponse.json(.unauthorized, error: "login required") }
        return try await next(request, context)
    }
}
