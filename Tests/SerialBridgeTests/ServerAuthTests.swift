import Foundation
import Logging
import SerialBridgeServer
import Testing

/// A server with login on: `alice` / `correct horse` in its users file and, optionally, an admin token.
private func loginServer(
    _ logs: LogCapture, admin: String? = nil, users: Bool = true, clock: AuthClock = .system,
    configure: (inout AuthOptions) -> Void = { _ in }
) async throws -> TestServer {
    let dir = try TemporaryDirectory()
    if users { try UserCommands.add(name: "alice", password: "correct horse", file: dir.file("users"), cost: 4) }
    let adminToken = try admin.map { try AdminToken($0) }
    return try await TestServer(directory: dir, port: 0, gateway: "gw-test", logger: logs.logger("server")) { options in
        options.auth = AuthOptions(usersFile: users ? dir.file("users") : nil, adminToken: adminToken, clock: clock)
        configure(&options.auth)
    }
}

private let adminSecret = "admin-0123456789abcdef0123456789"

/// Logs in as alice; returns the session cookie.
private func logIn(port: Int) async throws -> String {
    let reply = try await offThePool {
        try rawHTTP(port: port, "POST", "/login", headers: ["Content-Type: application/json"], body: #"{"user":"alice","password":"correct horse"}"#)
    }
    #expect(reply.status == 200)
    return try #require(reply.sessionCookie)
}

@Suite("Server auth: gateway tokens, login, sessions, /live", .serialized)
struct ServerAuthTests {
    // MARK: Gateway tokens

    @Test func aRevokedTokenIsRefusedAtConnectAndItsLiveConnectionIsClosed() async throws {
        let logs = LogCapture()
        let dir = try TemporaryDirectory()
        let file = dir.file("tokens")
        let (token, _) = try GatewayTokenCommands.add(gateway: "gw-test", file: file)
        let tokens = try TokenStore.load(file: file)
        let server = try await TestServer(directory: dir, port: 0, gateway: "gw-test", logger: logs.logger("server")) { options in
            options.tokens = tokens
            options.auth.tokenRecheckInterval = .milliseconds(50)
            options.auth.revocationGrace = .milliseconds(200)
        }
        let port = server.port
        let headers = ["Authorization: Bearer \(token)", "Sec-WebSocket-Protocol: serialbridge.v1"]
        let (status, connection) = try await offThePool { try rawUpgrade(port: port, path: "/gateway/v1", headers: headers) }
        #expect(status.hasPrefix("HTTP/1.1 101"))
        try await eventually("gateway online") { server.registry.gateways.contains { $0.gateway == "gw-test" && $0.online } }

        _ = try GatewayTokenCommands.revoke(gateway: "gw-test", file: file)
        // The running server notices the edited file: the open connection is closed with 1008…
        #expect(try await offThePool { connection.readCloseCode() } == 1008)
        try await eventually("the close logged") { logs.count(containing: #"closed the connection of gateway "gw-test": its token was revoked"#) == 1 }
        // The server half-closes after its close frame and waits for the answer; this client never
        // answers (nor closes), so it is cut off after the grace period.
        try await eventually("the silent client cut off", logs: logs) {
            logs.count(containing: "cut off a revoked gateway's connection from [IPv4]127.0.0.1") == 1
        }
        // …and the next connect is refused before the upgrade, the auth endpoint saying why.
        #expect(try await offThePool { try rawUpgrade(port: port, path: "/gateway/v1", headers: headers).status }.hasPrefix("HTTP/1.1 400"))
        #expect(logs.count(containing: #"refused gateway upgrade: the token of gateway "gw-test" was revoked at "#) == 1)
        let why = try await offThePool { try rawHTTP(port: port, "GET", "/gateway/v1/auth", headers: ["Authorization: Bearer \(token)"]) }
        #expect(why.status == 401 && why.body.contains(#"{"error":"the token of gateway \"gw-test\" was revoked at "#))

        // A token added while the server runs works at once.
        let (fresh, _) = try GatewayTokenCommands.add(gateway: "gw-test", file: file)
        let accepted = try await offThePool {
            try rawUpgrade(port: port, path: "/gateway/v1", headers: ["Authorization: Bearer \(fresh)", "Sec-WebSocket-Protocol: serialbridge.v1"]).status
        }
        #expect(accepted.hasPrefix("HTTP/1.1 101"))
        try await server.stop()
    }

    @Test func aWrongTokenIsRefusedAtConnect() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let port = server.port
        let headers = ["Authorization: Bearer sbg_not-a-token-of-ours-0123456789", "Sec-WebSocket-Protocol: serialbridge.v1"]
        #expect(try await offThePool { try rawUpgrade(port: port, path: "/gateway/v1", headers: headers).status }.hasPrefix("HTTP/1.1 400"))
        #expect(logs.count(containing: "refused gateway upgrade: unknown token") == 1)
        let why = try await offThePool { try rawHTTP(port: port, "GET", "/gateway/v1/auth", headers: [headers[0]]) }
        #expect(why.status == 401 && why.body == #"{"error":"unknown token"}"#)
        try await server.stop()
    }

    // MARK: Login and the API

    @Test func loginWithTheRightPasswordOpensTheAPIAndTheWrongOneDoesNot() async throws {
        let logs = LogCapture()
        let server = try await loginServer(logs)
        let port = server.port

        let anonymous = try await offThePool { try rawHTTP(port: port, "GET", "/api/devices") }
        #expect(anonymous.status == 401 && anonymous.body == #"{"error":"login required"}"#)
        let page = try await offThePool { try rawHTTP(port: port, "GET", "/", headers: ["Accept: text/html"]) }
        #expect(page.status == 303 && page.header("Location") == "/login?next=/")
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/healthz") }.status == 200)
        let loginPage = try await offThePool { try rawHTTP(port: port, "GET", "/login?next=/") }
        #expect(loginPage.status == 200 && loginPage.body.contains(#"<form method="post" action="/login">"#))
        #expect(loginPage.header("Content-Security-Policy")?.contains("default-src 'none'") == true)

        let wrong = try await offThePool {
            try rawHTTP(port: port, "POST", "/login", headers: ["Content-Type: application/x-www-form-urlencoded"], body: "user=alice&password=wrong+horse&next=%2F")
        }
        #expect(wrong.status == 401 && wrong.body.contains("wrong user name or password") && wrong.sessionCookie == nil)
        #expect(logs.count(containing: #"failed login for user "alice" from 127.0.0.1"#) == 1)

        let form = try await offThePool {
            try rawHTTP(port: port, "POST", "/login", headers: ["Content-Type: application/x-www-form-urlencoded"], body: "user=alice&password=correct+horse&next=%2Fapi%2Fdevices")
        }
        #expect(form.status == 303 && form.header("Location") == "/api/devices")
        let setCookie = try #require(form.header("Set-Cookie"))
        #expect(setCookie.contains("; Path=/") && setCookie.contains("; HttpOnly") && setCookie.contains("; SameSite=Strict") && !setCookie.contains("Secure"))
        let cookie = try #require(form.sessionCookie)
        #expect(cookie.count == 43)

        let devices = try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: theme=dark; sb_session=\(cookie)"]) }
        #expect(devices.status == 200 && devices.body == "[]")
        let me = try await offThePool { try rawHTTP(port: port, "GET", "/api/session", headers: ["Cookie: sb_session=\(cookie)"]) }
        #expect(me.body == #"{"user":"alice","method":"session","login":true}"#)
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/", headers: ["Cookie: sb_session=\(cookie)"]) }.status == 200)

        let json = try await logIn(port: port)
        #expect(json != cookie)

        let logout = try await offThePool { try rawHTTP(port: port, "POST", "/logout", headers: ["Cookie: sb_session=\(cookie)"]) }
        #expect(logout.status == 204 && logout.header("Set-Cookie")?.contains("Max-Age=0") == true)
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(cookie)"]) }.status == 401)
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(json)"]) }.status == 200)
        try await server.stop()
    }

    @Test func theAdminTokenWorksAsABearerTokenAndAsAPassword() async throws {
        let logs = LogCapture()
        let server = try await loginServer(logs, admin: adminSecret, users: false)
        let port = server.port
        let bearer = try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Authorization: Bearer \(adminSecret)"]) }
        #expect(bearer.status == 200 && bearer.body == "[]")
        let wrong = try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Authorization: Bearer \(adminSecret)x"]) }
        #expect(wrong.status == 401 && wrong.body == #"{"error":"invalid bearer token"}"#)
        #expect(logs.count(containing: "refused a bearer token from 127.0.0.1") == 1)

        let login = try await offThePool {
            try rawHTTP(port: port, "POST", "/login", headers: ["Content-Type: application/json"], body: #"{"user":"","password":"\#(adminSecret)"}"#)
        }
        #expect(login.status == 200 && login.body == #"{"ok":true,"user":"admin token"}"#)
        let cookie = try #require(login.sessionCookie)
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(cookie)"]) }.status == 200)
        try await server.stop()
    }

    @Test func repeatedFailedLoginsAreThrottledPerAddress() async throws {
        let logs = LogCapture()
        let time = AuthClock.ManualTime()
        let server = try await loginServer(logs, clock: .manual(time)) { $0.throttle = LoginThrottle(burst: 3, refill: .seconds(20)) }
        let port = server.port
        let bad = #"{"user":"alice","password":"guess guess"}"#
        for _ in 1...3 {
            #expect(try await offThePool { try rawHTTP(port: port, "POST", "/login", body: bad) }.status == 401)
        }
        // Now even the right password is refused without being checked.
        let throttled = try await offThePool {
            try rawHTTP(port: port, "POST", "/login", body: #"{"user":"alice","password":"correct horse"}"#)
        }
        #expect(throttled.status == 429 && throttled.header("Retry-After") == "20")
        #expect(logs.count(containing: "login from 127.0.0.1 refused without checking: too many failures, retry in 20 s") == 1)
        time.advance(by: .seconds(20))
        _ = try await logIn(port: port)
        try await server.stop()
    }

    @Test func sessionsExpireOnTheServersClockAndWithTheirUser() async throws {
        let logs = LogCapture()
        let time = AuthClock.ManualTime()
        let server = try await loginServer(logs, clock: .manual(time)) { $0.sessions = .init(idle: .seconds(600), lifetime: .seconds(3600)) }
        let port = server.port
        let cookie = try await logIn(port: port)
        time.advance(by: .seconds(599))
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(cookie)"]) }.status == 200)
        time.advance(by: .seconds(600))
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(cookie)"]) }.status == 401)
        let live = try await offThePool {
            try rawUpgrade(port: port, path: "/live", headers: ["Origin: http://127.0.0.1:\(port)", "Cookie: sb_session=\(cookie)"]).status
        }
        #expect(live.hasPrefix("HTTP/1.1 400"))
        #expect(logs.count(containing: "the session expired or is unknown (log in at /login)") == 1)

        // Removing a user from the file ends their sessions at the next request.
        let again = try await logIn(port: port)
        try UserCommands.remove(name: "alice", file: server.directory.file("users"))
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(again)"]) }.status == 401)
        try await server.stop()
    }

    @Test func cookieAuthenticatedWritesAndLoginsFromAnotherOriginAreRefused() async throws {
        let logs = LogCapture()
        let server = try await loginServer(logs) { $0.secureCookies = true }
        let port = server.port
        let login = try await offThePool {
            try rawHTTP(port: port, "POST", "/login", body: #"{"user":"alice","password":"correct horse"}"#)
        }
        #expect(login.header("Set-Cookie")?.hasSuffix("; Secure") == true)
        let cookie = try #require(login.sessionCookie)
        let forged = try await offThePool {
            try rawHTTP(port: port, "POST", "/api/devices", headers: ["Cookie: sb_session=\(cookie)", "Origin: http://evil.example"], body: "")
        }
        #expect(forged.status == 403 && forged.body.contains("cross-origin request refused"))
        let foreignLogin = try await offThePool {
            try rawHTTP(port: port, "POST", "/login", headers: ["Origin: http://evil.example"], body: #"{"user":"alice","password":"correct horse"}"#)
        }
        #expect(foreignLogin.status == 403 && foreignLogin.sessionCookie == nil)
        let sameOriginLogin = try await offThePool {
            try rawHTTP(port: port, "POST", "/login", headers: ["Origin: http://127.0.0.1:\(port)"], body: #"{"user":"alice","password":"correct horse"}"#)
        }
        #expect(sameOriginLogin.status == 200)
        try await server.stop()
    }

    // MARK: The /live WebSocket

    @Test func liveUpgradesNeedAnAllowedOriginAndASession() async throws {
        let logs = LogCapture()
        let server = try await loginServer(logs, admin: adminSecret) { $0.allowedOrigins = ["https://dash.example.org"] }
        let port = server.port
        let cookie = try await logIn(port: port)
        let sameOrigin = "Origin: http://127.0.0.1:\(port)"
        func status(_ headers: [String]) async throws -> String {
            try await offThePool { try rawUpgrade(port: port, path: "/live", headers: headers).status }
        }
        #expect(try await status([sameOrigin, "Cookie: sb_session=\(cookie)"]).hasPrefix("HTTP/1.1 101"))
        #expect(try await status(["Origin: https://dash.example.org", "Cookie: sb_session=\(cookie)"]).hasPrefix("HTTP/1.1 101"))
        #expect(try await status(["Authorization: Bearer \(adminSecret)"]).hasPrefix("HTTP/1.1 101"))

        #expect(try await status(["Origin: http://evil.example", "Cookie: sb_session=\(cookie)"]).hasPrefix("HTTP/1.1 400"))
        #expect(logs.count(containing: "refused /live upgrade from 127.0.0.1: Origin http://evil.example is neither this server (Host: 127.0.0.1:\(port)) nor an --allowed-origin") == 1)
        #expect(try await status([sameOrigin]).hasPrefix("HTTP/1.1 400"))
        #expect(logs.count(containing: "refused /live upgrade from 127.0.0.1: no session cookie (log in at /login) and no admin bearer token") == 1)
        #expect(try await status([]).hasPrefix("HTTP/1.1 400"))
        #expect(try await status(["Authorization: Bearer \(adminSecret)x"]).hasPrefix("HTTP/1.1 400"))
        #expect(try await status(["Authorization: Bearer \(adminSecret)", "Origin: http://evil.example"]).hasPrefix("HTTP/1.1 400"))
        // The old path is gone.
        #expect(try await status([sameOrigin, "Cookie: sb_session=\(cookie)"].map { $0 }).hasPrefix("HTTP/1.1 101"))
        #expect(try await offThePool { try rawUpgrade(port: port, path: "/api/live", headers: [sameOrigin, "Cookie: sb_session=\(cookie)"]).status }.hasPrefix("HTTP/1.1 400"))
        try await server.stop()
    }

    // MARK: Open (loopback) servers

    @Test func aLoopbackServerWithoutUsersIsOpenToLoopbackNamesOnly() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let port = server.port
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices") }.body == "[]")
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/session") }.body == #"{"user":"anonymous","method":"open","login":false}"#)
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/login") }.header("Location") == "/")
        #expect(try await offThePool { try rawHTTP(port: port, "POST", "/login", body: #"{"user":"a","password":"b"}"#) }.status == 404)
        let live = try await offThePool { try rawUpgrade(port: port, path: "/live", headers: ["Origin: http://127.0.0.1:\(port)"]).status }
        #expect(live.hasPrefix("HTTP/1.1 101"))
        #expect(try await offThePool { try rawUpgrade(port: port, path: "/live", headers: []).status }.hasPrefix("HTTP/1.1 101"))
        let foreign = try await offThePool { try rawUpgrade(port: port, path: "/live", headers: ["Origin: http://evil.example"]).status }
        #expect(foreign.hasPrefix("HTTP/1.1 400"))
        // DNS rebinding: a foreign name that resolves to 127.0.0.1 is same-origin with itself, but not a loopback name.
        let rebound = ["Host: evil.example:\(port)", "Origin: http://evil.example:\(port)"]
        #expect(try await offThePool { try rawUpgrade(port: port, path: "/live", headers: rebound).status }.hasPrefix("HTTP/1.1 400"))
        #expect(logs.count(containing: "Host evil.example:\(port) is not a loopback name") == 1)
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: [rebound[0]]) }.status == 403)
        try await server.stop()
    }

    @Test func listeningBeyondLoopbackWithoutLoginRefusesToStart() throws {
        let dir = try TemporaryDirectory()
        let logger = LogCapture().logger("server")
        var options = ServerOptions(host: "0.0.0.0", port: 0, databasePath: dir.file("db.sqlite"), tokens: TokenStore([]))
        #expect(throws: ServerConfigError(
            "refusing to listen on 0.0.0.0 without login: anyone who can reach it could read every reading and send commands. "
                + "Add users (`serialbridge-server users add NAME --users FILE`, then `serve --users FILE`) "
                + "or an admin token (`--admin-token-file FILE` or SERIALBRIDGE_ADMIN_TOKEN), "
                + "or listen on 127.0.0.1 (e.g. behind a reverse proxy)"
        )) { _ = try ServerApplication.make(options: options, logger: logger) }
        options.auth.adminToken = try AdminToken(adminSecret)
        _ = try ServerApplication.make(options: options, logger: logger)
        #expect(throws: ServerConfigError.self) { try AdminToken("too-short") }
    }
}
