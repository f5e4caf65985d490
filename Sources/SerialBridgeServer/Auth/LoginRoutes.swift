import HTTPTypes
import Hummingbird
import NIOCore
import SerialBridgeJSON

/// `GET /login` (the page), `POST /login` (form or JSON), `POST /logout` and `GET /api/session`
/// (who is logged in).
enum LoginRoutes {
    /// Largest login request body read.
    static let maxBodyBytes = 16 * 1024

    static func add(to router: Router<ServerRequestContext>, authenticator: ServerAuthenticator) {
        router.get("/login") { request, context in
            let next = AuthResponse.localPath(request.uri.queryParameters["next"].map(String.init))
            if authenticator.mode == .open || context.auth != nil { return AuthResponse.redirect(to: next) }
            return page(.ok, error: nil, next: next)
        }
        router.post("/login") { request, context in
            let form = isForm(request)
            // Another site's page must not log a visitor in (to an account of the attacker's choosing).
            let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!]
            if case .refused(let why) = authenticator.origins.check(origin: request.headers[.origin], host: host) {
                context.logger.warning("refused a login from \(context.clientAddress): \(why)")
                return AuthResponse.json(.forbidden, error: "cross-origin login refused: \(why)")
            }
            let fields: LoginFields
            do {
                let body = try await request.body.collect(upTo: maxBodyBytes)
                fields = try LoginFields.parse(Array(body.readableBytesView), form: form)
            } catch let error as LoginFields.Invalid {
                return AuthResponse.json(.badRequest, error: error.message)
            } catch {
                return AuthResponse.json(.contentTooLarge, error: "a login request has at most \(maxBodyBytes) bytes")
            }
            let next = AuthResponse.localPath(fields.next)
            switch await authenticator.login(user: fields.user, password: fields.password, client: context.clientAddress) {
            case .success(let sessionID, let user):
                let cookie: HTTPFields = [.setCookie: authenticator.cookie(for: sessionID)]
                if form { return AuthResponse.redirect(to: next, headers: cookie) }
                var writer = JSONWriter()
                writer.beginObject()
                writer.key("ok"); writer.bool(true)
                writer.key("user"); writer.string(user)
                writer.endObject()
                return AuthResponse.json(.ok, String(decoding: writer.bytes, as: UTF8.self), headers: cookie)
            case .refused:
                let message = "wrong user name or password"
                return form ? page(.unauthorized, error: message, next: next) : AuthResponse.json(.unauthorized, error: message)
            case .throttled(let wait):
                let seconds = ServerAuthenticator.seconds(wait)
                let message = "too many failed logins from this address; try again in \(seconds) s"
                var response = form ? page(.tooManyRequests, error: message, next: next) : AuthResponse.json(.tooManyRequests, error: message)
                response.headers[.retryAfter] = "\(seconds)"
                return response
            case .unavailable:
                let message = "cannot log in right now: the session store is unreachable; try again shortly"
                return form ? page(.serviceUnavailable, error: message, next: next) : AuthResponse.json(.serviceUnavailable, error: message)
            case .disabled:
                return AuthResponse.json(.notFound, error: "login is off: this server has no users and no admin token (it listens on loopback only)")
            }
        }
        router.post("/logout") { request, _ in
            if let id = request.cookies[ServerAuthenticator.cookieName]?.value { await authenticator.sessions.remove(String(id)) }
            let cookie: HTTPFields = [.setCookie: authenticator.expiredCookie]
            if isForm(request) || (request.headers[.accept]?.contains("text/html") ?? false) {
                return AuthResponse.redirect(to: "/login", headers: cookie)
            }
            return Response(status: .noContent, headers: cookie)
        }
        router.get("/api/session") { _, context in
            let identity = try context.requireUser()
            var writer = JSONWriter()
            writer.beginObject()
            writer.key("user"); writer.string(identity.user)
            writer.key("method"); writer.string(identity.method.rawValue)
            writer.key("login"); writer.bool(authenticator.mode == .loginRequired)
            writer.endObject()
            return AuthResponse.json(.ok, String(decoding: writer.bytes, as: UTF8.self))
        }
    }

    static func isForm(_ request: Request) -> Bool {
        request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false
    }

    static func page(_ status: HTTPResponse.Status, error: String?, next: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .cacheControl: "no-store",
                // No script, no external anything, never framed (clickjacking), posts only here.
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                HTTPField.Name("X-Frame-Options")!: "DENY",
            ],
            body: .init(byteBuffer: ByteBuffer(string: LoginPage.html(error: error, next: next)))
        )
    }
}

/// The fields of a login request: `user` (or `username`), `password`, and `next`.
struct LoginFields: Equatable {
    var user: String
    var password: String
    var next: String?

    struct Invalid: Error {
        var message: String
    }

    /// Parses a form-urlencoded or JSON body.
    static func parse(_ body: [UInt8], form: Bool) throws(Invalid) -> LoginFields {
        var values: [String: String] = [:]
        if form {
            for pair in body.split(separator: UInt8(ascii: "&")) {
                let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = formDecode(parts[0]) else { throw Invalid(message: "the form is not valid percent-encoding") }
                guard let value = parts.count > 1 ? formDecode(parts[1]) : "" else { throw Invalid(message: "the form is not valid percent-encoding") }
                values[key] = value
            }
        } else {
            let document: JSONNode
            do {
                document = try JSONParser.parse(body)
            } catch {
                throw Invalid(message: "expected a JSON object {\"user\":…,\"password\":…} or a form: \(error)")
            }
            guard case .object(let pairs) = document else { throw Invalid(message: "expected a JSON object {\"user\":…,\"password\":…}") }
            for (key, value) in pairs {
                guard case .string(let text) = value else { throw Invalid(message: "\"\(key)\" must be a string") }
                values[key] = text
            }
        }
        guard let password = values["password"] else { throw Invalid(message: "missing \"password\"") }
        return LoginFields(user: values["user"] ?? values["username"] ?? "", password: password, next: values["next"])
    }

    /// Decodes `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte; nil for bad escapes
    /// or bytes that are not UTF-8.
    static func formDecode(_ bytes: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(0x20)
            } else if byte == UInt8(ascii: "%") {
                guard bytes.endIndex - index >= 3,
                      let value = Secret.bytes(hex: String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self)) else { return nil }
                out.append(value[0])
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return String(validating: out, as: UTF8.self)
    }
}
