import Foundation
import Logging
@testable import SerialBridgeServer
import Testing

/// The pure and file-level parts of people and gateway auth: token and users files, sessions,
/// throttling, origins.
@Suite("Server auth parts")
struct ServerAuthPartsTests {
    // MARK: Gateway tokens

    @Test func tokensAddListRevokeRoundTripStoresOnlyHashes() throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("tokens")
        let (token, entry) = try GatewayTokenCommands.add(gateway: "gw-1", file: file, now: 1_777_777_777)
        #expect(token.hasPrefix("sbg_") && token.count == 4 + 43)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!text.contains(token) && !text.contains(String(token.dropFirst(4))))
        #expect(text.contains("gw-1 sha256:\(Secret.hex(Secret.sha256(token))) created=2026-05-03T03:09:37Z"))
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int == 0o600)
        let (second, _) = try GatewayTokenCommands.add(gateway: "gw-2", file: file)
        #expect(second != token)

        let listed = try GatewayTokenCommands.list(file: file)
        #expect(listed.map(\.gateway) == ["gw-1", "gw-2"])
        #expect(listed[0].fingerprint == entry.fingerprint && entry.fingerprint.count == 12)
        #expect(listed.allSatisfy { $0.revoked == nil })

        let store = try TokenStore.load(file: file)
        #expect(store.check(authorization: "Bearer \(token)") == .accepted(gateway: "gw-1"))

        let revoked = try GatewayTokenCommands.revoke(gateway: "gw-1", file: file, now: 1_777_800_000)
        #expect(revoked.map(\.fingerprint) == [entry.fingerprint])
        #expect(try GatewayTokenCommands.list(file: file).map(\.revoked) == ["2026-05-03T09:20:00Z", nil])
        #expect(store.check(authorization: "Bearer \(token)") == .refused(reason: #"the token of gateway "gw-1" was revoked at 2026-05-03T09:20:00Z"#))
        #expect(store.check(authorization: "Bearer \(second)") == .accepted(gateway: "gw-2"))

        #expect(throws: ServerConfigError("\(file): no token for gateway \"gw-9\"; gateways with tokens: gw-1, gw-2")) {
            try GatewayTokenCommands.revoke(gateway: "gw-9", file: file)
        }
        #expect(throws: ServerConfigError("\(file): the token(s) of gateway \"gw-1\" are already revoked")) {
            try GatewayTokenCommands.revoke(gateway: "gw-1", file: file)
        }
    }

    @Test func oneOfAGatewaysTokensCanBeRevokedByFingerprint() throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("tokens")
        let (old, oldEntry) = try GatewayTokenCommands.add(gateway: "gw-1", file: file)
        let (new, _) = try GatewayTokenCommands.add(gateway: "gw-1", file: file)
        _ = try GatewayTokenCommands.revoke(gateway: "gw-1", fingerprint: String(oldEntry.fingerprint.prefix(8)), file: file)
        let store = try TokenStore.load(file: file)
        #expect(store.check(authorization: "Bearer \(old)") != .accepted(gateway: "gw-1"))
        #expect(store.check(authorization: "Bearer \(new)") == .accepted(gateway: "gw-1"))
        #expect(throws: ServerConfigError.self) { try GatewayTokenCommands.revoke(gateway: "gw-1", fingerprint: "ffffffffffff", file: file) }
    }

    @Test func aPlaintextLineNamesFileLineAndTheCommandsThatReplaceIt() throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("tokens")
        try dir.write("tokens", "# old file\ngw-1 0123456789abcdef0123456789abcdef01\n")
        #expect(throws: ServerConfigError(
            "\(file):2: a plaintext token for gateway \"gw-1\" (the old token file format); the server keeps only hashes now: "
                + "run `serialbridge-server tokens migrate --tokens \(file)` to hash the file's plaintext tokens in place, "
                + "or issue a new token with `serialbridge-server tokens add gw-1 --tokens \(file)` and delete this line"
        )) { try TokenStore.load(file: file) }
        #expect(try GatewayTokenCommands.migrate(file: file) == ["gw-1"])
        let store = try TokenStore.load(file: file)
        #expect(store.check(authorization: "Bearer 0123456789abcdef0123456789abcdef01") == .accepted(gateway: "gw-1"))
        #expect(try String(contentsOfFile: file, encoding: .utf8).hasPrefix("# old file\ngw-1 sha256:"))
    }

    @Test func migrateRefusesAShortPlaintextToken() throws {
        let dir = try TemporaryDirectory()
        try dir.write("tokens", "gw-1 0123456789abcdef\n")
        #expect(throws: ServerConfigError.self) { try GatewayTokenCommands.migrate(file: dir.file("tokens")) }
    }

    @Test func malformedTokenLinesNameTheirLine() throws {
        let cases: [(String, String)] = [
            ("gw-1 sha256:abcd created=x\n", ":1: the hash after `sha256:` must be 64 hex digits"),
            ("\n\ngw-1 sha256:\(String(repeating: "a", count: 64)) colour=blue\n", ":3: unexpected `colour=blue`; only created=TIME and revoked=TIME may follow the hash"),
            ("gw-1 sha256:\(String(repeating: "a", count: 64)) x y z\n", ":1: unexpected `x`; only created=TIME and revoked=TIME may follow the hash"),
            ("gw-1 a b c\n", ":1: expected `GATEWAY-ID sha256:HASH created=TIME [revoked=TIME]`"),
        ]
        for (text, message) in cases {
            #expect(throws: ServerConfigError("f\(message)")) { try GatewayTokenFile.parse(text, file: "f") }
        }
    }

    @Test func aTokenFileKeepsItsCommentsThroughEdits() throws {
        let text = "# ours\n\ngw-1 sha256:\(String(repeating: "b", count: 64)) created=2026-01-01T00:00:00Z\n# end\n"
        var file = try GatewayTokenFile.parse(text, file: "f")
        #expect(file.rendered() == text)
        _ = file.revoke(where: { _ in true }, at: "T")
        #expect(file.rendered() == text.replacingOccurrences(of: "00:00:00Z\n", with: "00:00:00Z revoked=T\n"))
    }

    @Test func aBrokenEditKeepsTheLastGoodTokensAndIsLoggedOnce() throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("tokens")
        let (token, _) = try GatewayTokenCommands.add(gateway: "gw-1", file: file)
        let store = try TokenStore.load(file: file)
        let logs = LogCapture()
        let logger = logs.logger("server")
        let good = try String(contentsOfFile: file, encoding: .utf8)
        try dir.write("tokens", good + "gw-2 not-a-hash extra\n")
        #expect(store.check(authorization: "Bearer \(token)", logger: logger) == .accepted(gateway: "gw-1"))
        #expect(store.check(authorization: "Bearer \(token)", logger: logger) == .accepted(gateway: "gw-1"))
        #expect(logs.count(containing: "\(file):\(good.split(separator: "\n").count + 1): expected `GATEWAY-ID sha256:HASH") == 1)
        #expect(logs.count(containing: "keeping the last good contents") == 1)
        // Fixed: the new contents take effect.
        try dir.write("tokens", "")
        #expect(store.check(authorization: "Bearer \(token)", logger: logger) == .refused(reason: "unknown token"))
    }

    @Test func inMemoryTokensAuthenticateTheirOwnGatewayOnly() {
        let tokens = TokenStore([(gateway: "gw-1", token: "aaaaaaaaaaaaaaaa1"), (gateway: "gw-2", token: "bbbbbbbbbbbbbbbb2")])
        #expect(tokens.check(authorization: "Bearer  aaaaaaaaaaaaaaaa1") == .accepted(gateway: "gw-1"))
        #expect(tokens.check(authorization: "Bearer bbbbbbbbbbbbbbbb2") == .accepted(gateway: "gw-2"))
        #expect(tokens.check(authorization: "Bearer bbbbbbbbbbbbbbbb") == .refused(reason: "unknown token"))
    }

    // MARK: Users

    @Test func bcryptHashesFromPHPsManualAreAccepted() async throws {
        // The `$2y$` example of PHP's password_verify documentation: an independent bcrypt.
        let dir = try TemporaryDirectory()
        try dir.write("users", "# people\nrasmus:$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a\n")
        let users = try UserDirectory(file: dir.file("users"))
        #expect(await users.verify(name: "rasmus", password: "rasmuslerdorf", logger: nil))
        #expect(await !users.verify(name: "rasmus", password: "rasmuslerdorF", logger: nil))
        #expect(await !users.verify(name: "nobody", password: "rasmuslerdorf", logger: nil))
    }

    @Test func htpasswdDashBFilesAreAccepted() async throws {
        guard let htpasswd = ["/usr/bin/htpasswd", "/usr/sbin/htpasswd"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "htpasswd (apache2-utils) is missing under CI")
            print("skipped: htpasswd is not installed (apt-get install apache2-utils)")
            return
        }
        let dir = try TemporaryDirectory()
        let file = dir.file("users")
        let status = try await offThePool { () -> Int32 in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: htpasswd)
            process.arguments = ["-B", "-C", "5", "-b", "-c", file, "alice", "correct horse"]
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(status == 0)
        #expect(try String(contentsOfFile: file, encoding: .utf8).hasPrefix("alice:$2y$05$"))
        let users = try UserDirectory(file: file)
        #expect(await users.verify(name: "alice", password: "correct horse", logger: nil))
        #expect(await !users.verify(name: "alice", password: "correct horsE", logger: nil))
    }

    @Test func usersAddListRemoveRoundTrip() async throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("users")
        try UserCommands.add(name: "alice", password: "correct horse", file: file, cost: 4)
        try UserCommands.add(name: "bob", password: "battery staple", file: file, cost: 4)
        #expect(try UserCommands.list(file: file) == ["alice", "bob"])
        #expect(try String(contentsOfFile: file, encoding: .utf8).hasPrefix("alice:$2b$04$"))
        #expect(throws: ServerConfigError("\(file): user \"alice\" exists; use --update to set a new password")) {
            try UserCommands.add(name: "alice", password: "another one", file: file, cost: 4)
        }
        try UserCommands.add(name: "alice", password: "another one", file: file, update: true, cost: 4)
        let users = try UserDirectory(file: file)
        #expect(await users.verify(name: "alice", password: "another one", logger: nil))
        try UserCommands.remove(name: "bob", file: file)
        #expect(try UserCommands.list(file: file) == ["alice"])
        #expect(throws: ServerConfigError("\(file): no user \"bob\"; users: alice")) { try UserCommands.remove(name: "bob", file: file) }
        #expect(throws: ServerConfigError("the password needs at least 8 characters")) {
            try UserCommands.add(name: "carol", password: "short", file: file, cost: 4)
        }
        #expect(throws: ServerConfigError("user name \"a b\" contains a space, control character or `:`")) {
            try UserCommands.add(name: "a b", password: "long enough", file: file, cost: 4)
        }
    }

    @Test func nonBcryptUserLinesNameTheirLineAndTheFix() throws {
        #expect(throws: ServerConfigError(
            "u:2: user \"bob\": only bcrypt hashes ($2y$, $2b$, $2a$) are accepted, this looks like Apache MD5 (htpasswd -m); "
                + "set the password again with `htpasswd -B u bob` or `serialbridge-server users add bob --update --users u`"
        )) { try UserFile.parse("# x\nbob:$apr1$abc$def\n", file: "u") }
        #expect(throws: ServerConfigError("u:1: expected `NAME:BCRYPT-HASH` (as written by `htpasswd -B` or `serialbridge-server users add`)")) {
            try UserFile.parse("bob\n", file: "u")
        }
    }

    // MARK: Sessions, throttling, origins

    @Test func sessionsEndAfterIdleTimeAndAfterTheirLifetime() {
        let time = AuthClock.ManualTime()
        let sessions = SessionTable(limits: .init(idle: .seconds(600), lifetime: .seconds(3600)), clock: .manual(time))
        let id = sessions.create(user: "alice")
        #expect(id.count == 43)
        #expect(sessions.user(for: id) == "alice")
        #expect(sessions.user(for: id + "x") == nil)
        // Used every 9 minutes it stays alive…
        for _ in 1...6 {
            time.advance(by: .seconds(540))
            #expect(sessions.user(for: id) == "alice")
        }
        // …until an hour after login, however busy.
        time.advance(by: .seconds(360))
        #expect(sessions.user(for: id) == nil)
        let idle = sessions.create(user: "bob")
        time.advance(by: .seconds(599))
        #expect(sessions.user(for: idle) == "bob")
        time.advance(by: .seconds(600))
        #expect(sessions.user(for: idle) == nil)
        let ended = sessions.create(user: "carol")
        sessions.remove(ended)
        #expect(sessions.user(for: ended) == nil)
    }

    @Test func theSessionTableIsBounded() {
        let time = AuthClock.ManualTime()
        let sessions = SessionTable(limits: .init(maxSessions: 3), clock: .manual(time))
        var ids: [String] = []
        for n in 0..<5 {
            ids.append(sessions.create(user: "u\(n)"))
            time.advance(by: .seconds(1))
        }
        #expect(sessions.count == 3)
        #expect(ids.map { sessions.user(for: $0) } == [nil, nil, "u2", "u3", "u4"])
    }

    @Test func failedLoginsDrainABucketThatRefillsWithTime() {
        var throttle = LoginThrottle(burst: 3, refill: .seconds(10))
        var now = Duration.zero
        for _ in 1...3 {
            #expect(throttle.check("1.2.3.4", at: now) == nil)
            throttle.recordFailure("1.2.3.4", at: now)
        }
        #expect(throttle.check("1.2.3.4", at: now) == .seconds(10))
        #expect(throttle.check("5.6.7.8", at: now) == nil)
        now += .seconds(4)
        #expect(throttle.check("1.2.3.4", at: now) == .seconds(6))
        now += .seconds(6)
        #expect(throttle.check("1.2.3.4", at: now) == nil)
        throttle.recordFailure("1.2.3.4", at: now)
        #expect(throttle.check("1.2.3.4", at: now) != nil)
    }

    @Test func theThrottleForgetsClientsBeyondItsBound() {
        var throttle = LoginThrottle(burst: 1, refill: .seconds(10), maxClients: 2)
        for client in ["a", "b", "c"] { throttle.recordFailure(client, at: .zero) }
        #expect(["a", "b", "c"].filter { throttle.check($0, at: .zero) != nil }.count == 2)
    }

    @Test func originsAreComparedWithTheHostAndTheAllowlist() throws {
        let policy = try OriginPolicy(allowedOrigins: ["https://dash.example.org/", "http://localhost:3000"])
        let cases: [(String?, String?, OriginPolicy.Verdict)] = [
            ("http://127.0.0.1:8080", "127.0.0.1:8080", .sameOrigin),
            ("HTTP://LOCALHOST:8080", "localhost:8080", .sameOrigin),
            ("https://sb.example.org", "sb.example.org", .sameOrigin),  // behind a TLS proxy that keeps Host
            ("http://sb.example.org", "sb.example.org", .sameOrigin),
            ("https://sb.example.org:8443", "sb.example.org", .refused("Origin https://sb.example.org:8443 is neither this server (Host: sb.example.org) nor an --allowed-origin")),
            ("http://[::1]:8080", "[::1]:8080", .sameOrigin),
            ("https://dash.example.org", "10.0.0.5:8080", .allowlisted),
            ("https://dash.example.org:443", "10.0.0.5:8080", .allowlisted),
            ("http://localhost:3000", "127.0.0.1:8080", .allowlisted),
            (nil, "127.0.0.1:8080", .missing),
            ("http://evil.example:8080", "127.0.0.1:8080", .refused("Origin http://evil.example:8080 is neither this server (Host: 127.0.0.1:8080) nor an --allowed-origin")),
            ("http://127.0.0.1:8081", "127.0.0.1:8080", .refused("Origin http://127.0.0.1:8081 is neither this server (Host: 127.0.0.1:8080) nor an --allowed-origin")),
            ("null", "127.0.0.1:8080", .refused("Origin \"null\" is not an http(s) origin")),
            ("http://127.0.0.1:8080", nil, .refused("Origin http://127.0.0.1:8080 is neither this server (Host: none) nor an --allowed-origin")),
        ]
        for (origin, host, verdict) in cases {
            #expect(policy.check(origin: origin, host: host) == verdict, "Origin \(origin ?? "nil"), Host \(host ?? "nil")")
        }
        #expect(throws: ServerConfigError.self) { try OriginPolicy(allowedOrigins: ["https://x.org/path"]) }
        #expect(throws: ServerConfigError.self) { try OriginPolicy(allowedOrigins: ["ftp://x.org"]) }
    }

    @Test func anOpenServerAnswersOnlyToLoopbackNames() throws {
        let policy = try OriginPolicy(allowedOrigins: ["https://dash.example.org"])
        for host in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080", "127.1.2.3:80", "dash.example.org"] {
            #expect(policy.acceptsOpenAccess(host: host), "\(host)")
        }
        for host in ["evil.example:8080", "127.0.0.1.evil.example", "10.0.0.1", "", "[::2]:80"] {
            #expect(!policy.acceptsOpenAccess(host: host), "\(host)")
        }
        #expect(!policy.acceptsOpenAccess(host: nil))
        #expect(OriginPolicy.isLoopback("127.0.0.1") && OriginPolicy.isLoopback("::1") && OriginPolicy.isLoopback("localhost"))
        #expect(!OriginPolicy.isLoopback("0.0.0.0") && !OriginPolicy.isLoopback("::") && !OriginPolicy.isLoopback("192.168.1.2"))
    }

    // MARK: Small parsers

    @Test func loginBodiesParseAsFormsOrJSON() throws {
        #expect(try LoginFields.parse(Array("user=al%20ice&password=p%26ss+word&next=%2Fdevices".utf8), form: true)
            == LoginFields(user: "al ice", password: "p&ss word", next: "/devices"))
        #expect(try LoginFields.parse(Array(#"{"username":"bob","password":"pw"}"#.utf8), form: false)
            == LoginFields(user: "bob", password: "pw", next: nil))
        #expect(throws: LoginFields.Invalid.self) { try LoginFields.parse(Array("user=a&password=%zz".utf8), form: true) }
        #expect(throws: LoginFields.Invalid.self) { try LoginFields.parse(Array("user=a&password=%4".utf8), form: true) }
        #expect(throws: LoginFields.Invalid.self) { try LoginFields.parse(Array(#"{"user":"a"}"#.utf8), form: false) }
        #expect(throws: LoginFields.Invalid.self) { try LoginFields.parse(Array(#"{"user":1,"password":"x"}"#.utf8), form: false) }
    }

    @Test func redirectsStayOnThisServer() {
        #expect(AuthResponse.localPath("/devices?x=1") == "/devices?x=1")
        for bad in ["//evil.example/", "/\\evil.example", "https://evil.example/", "devices", "/a\nb", nil] {
            #expect(AuthResponse.localPath(bad) == "/")
        }
    }

    @Test func durationsReadAsPeopleWriteThem() {
        #expect(DurationText.parse("90s") == .seconds(90))
        #expect(DurationText.parse("30m") == .seconds(1800))
        #expect(DurationText.parse("12h") == .seconds(43_200))
        #expect(DurationText.parse("7d") == .seconds(604_800))
        for bad in ["", "h", "0h", "-1h", "1.5h", "10", "10w", "99999999999999999d"] { #expect(DurationText.parse(bad) == nil, "\(bad)") }
    }

    @Test func theLoginPageEscapesWhatItEchoes() {
        let page = LoginPage.html(error: "<b>", next: "/\"><script>")
        #expect(page.contains("&lt;b&gt;") && page.contains(#"value="/&quot;&gt;&lt;script&gt;""#))
        #expect(!page.contains("<script"))
    }
}
