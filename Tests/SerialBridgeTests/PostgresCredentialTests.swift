import Logging
import Synchronization
import SerialBridgeServer
import Testing

/// Gateway tokens and users kept in PostgreSQL, shared by server instances.
@Suite(
    "Tokens and users in PostgreSQL: CLI code path, shared by instances, revocation across instances", .serialized,
    .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage))
)
struct PostgresCredentialTests {
    /// A server instance on `database` taking its tokens and users from it.
    private func instance(_ database: ServerDatabase, _ logs: LogCapture, _ name: String) async throws -> TestServer {
        try await TestServer(gateway: "gw-unused", logger: logs.logger(name)) { options in
            options.database = database
            options.tokensFromDatabase = true
            options.auth.usersFromDatabase = true
            options.auth.tokenRecheckInterval = .milliseconds(50)
            options.auth.revocationGrace = .milliseconds(200)
        }
    }

    @Test func tokensAddListRevokeAndImportThroughTheDatabase() async throws {
        let url = try await PostgresURL(PostgresTestCluster.newDatabase())
        let (token, entry) = try await PostgresCredentialCommands.addToken(gateway: "gw-1", database: url, now: 1_700_000_000)
        #expect(token.hasPrefix("sbg_") && entry.gateway == "gw-1" && entry.hash.count == 32)
        let second = try await PostgresCredentialCommands.addToken(gateway: "gw-1", database: url).entry
        var listed = try await PostgresCredentialCommands.listTokens(database: url)
        #expect(Set(listed.map(\.hash)) == [entry.hash, second.hash] && listed.allSatisfy { $0.revoked == nil })
        #expect(listed.first { $0.hash == entry.hash }?.created == "2023-11-14T22:13:20Z")

        // Revoking by fingerprint touches only that token; revoking again says so.
        let revoked = try await PostgresCredentialCommands.revokeToken(gateway: "gw-1", fingerprint: entry.fingerprint, database: url)
        #expect(revoked.map(\.hash) == [entry.hash])
        listed = try await PostgresCredentialCommands.listTokens(database: url)
        #expect(listed.first { $0.hash == entry.hash }?.revoked != nil && listed.first { $0.hash == second.hash }?.revoked == nil)
        await #expect(throws: ServerConfigError.self) { try await PostgresCredentialCommands.revokeToken(gateway: "gw-9", database: url) }
        _ = try await PostgresCredentialCommands.revokeToken(gateway: "gw-1", database: url)
        await #expect(throws: ServerConfigError("the token(s) of gateway \"gw-1\" are already revoked")) {
            try await PostgresCredentialCommands.revokeToken(gateway: "gw-1", database: url)
        }
        await #expect(throws: ServerConfigError.self) { try await PostgresCredentialCommands.addToken(gateway: "bad id", database: url) }

        // A single box's token file moves in, revocations included, once.
        let directory = try TemporaryDirectory()
        let file = directory.file("tokens")
        let kept = try GatewayTokenCommands.add(gateway: "gw-2", file: file).entry
        _ = try GatewayTokenCommands.add(gateway: "gw-3", file: file)
        _ = try GatewayTokenCommands.revoke(gateway: "gw-3", file: file)
        #expect(try await PostgresCredentialCommands.importTokens(file: file, database: url).map(\.gateway) == ["gw-2", "gw-3"])
        #expect(try await PostgresCredentialCommands.importTokens(file: file, database: url).isEmpty)
        listed = try await PostgresCredentialCommands.listTokens(database: url)
        #expect(listed.first { $0.hash == kept.hash }?.revoked == nil)
        #expect(listed.first { $0.gateway == "gw-3" }?.revoked != nil)
    }

    @Test func aGatewayAuthenticatesWithADatabaseTokenAndItsRevocationClosesItOnAnotherInstance() async throws {
        let logs = LogCapture()
        let text = try await PostgresTestCluster.newDatabase()
        let database = try ServerDatabase(parsing: text)
        let url = try PostgresURL(text)
        let (token, _) = try await PostgresCredentialCommands.addToken(gateway: "gw-pg", database: url)
        let first = try await instance(database, logs, "server-a")
        let second = try await instance(database, logs, "server-b")
        let (firstPort, secondPort) = (first.port, second.port)
        let headers = ["Authorization: Bearer \(token)", "Sec-WebSocket-Protocol: serialbridge.v1"]

        // The test server's own in-memory token is not used: the database's tokens replace it.
        let unused = try await offThePool {
            try rawHTTP(port: firstPort, "GET", "/gateway/v1/auth", headers: ["Authorization: Bearer \(TestServer.token)"])
        }
        #expect(unused.status == 401)
        let (status, connection) = try await offThePool { try rawUpgrade(port: firstPort, path: "/gateway/v1", headers: headers) }
        #expect(status.hasPrefix("HTTP/1.1 101"))
        try await eventually("gateway online on A") { first.registry.gateways.contains { $0.gateway == "gw-pg" && $0.online } }

        // Revoked in the database (as `tokens revoke --database` does): A, holding the gateway,
        // closes its connection with 1008, and B refuses the token.
        _ = try await PostgresCredentialCommands.revokeToken(gateway: "gw-pg", database: url)
        #expect(try await offThePool { connection.readCloseCode() } == 1008)
        try await eventually("the close logged", logs: logs) {
            logs.count(containing: #"closed the connection of gateway "gw-pg": its token was revoked"#) == 1
        }
        try await eventually("B refuses the revoked token", logs: logs) {
            let why = try await offThePool {
                try rawHTTP(port: secondPort, "GET", "/gateway/v1/auth", headers: ["Authorization: Bearer \(token)"])
            }
            return why.status == 401 && why.body.contains(#"the token of gateway \"gw-pg\" was revoked at "#)
        }

        // A token issued while both run works on both.
        let (fresh, _) = try await PostgresCredentialCommands.addToken(gateway: "gw-pg", database: url)
        for port in [firstPort, secondPort] {
            try await eventually("the new token accepted on \(port)", logs: logs) {
                try await offThePool { try rawHTTP(port: port, "GET", "/gateway/v1/auth", headers: ["Authorization: Bearer \(fresh)"]) }.status == 200
            }
        }
        try await first.stop()
        try await second.stop()
    }

    @Test func aUserAddedThroughTheDatabaseLogsInOnEveryInstanceAndRemovalEndsTheirSessions() async throws {
        let logs = LogCapture()
        let text = try await PostgresTestCluster.newDatabase()
        let database = try ServerDatabase(parsing: text)
        let url = try PostgresURL(text)
        let first = try await instance(database, logs, "server-a")
        let second = try await instance(database, logs, "server-b")
        let secondPort = second.port
        let login = #"{"user":"carol","password":"correct horse"}"#

        let refused = try await offThePool {
            try rawHTTP(port: secondPort, "POST", "/login", headers: ["Content-Type: application/json"], body: login)
        }
        #expect(refused.status == 401)
        try await PostgresCredentialCommands.addUser(name: "carol", password: "correct horse", database: url, cost: 4)
        #expect(try await PostgresCredentialCommands.listUsers(database: url) == ["carol"])
        await #expect(throws: ServerConfigError("user \"carol\" exists; use --update to set a new password")) {
            try await PostgresCredentialCommands.addUser(name: "carol", password: "another one", database: url, cost: 4)
        }

        // Logged in on B (not where the command ran, nor A).
        let cookie = Mutex<String?>(nil)
        try await eventually("carol logs in on B", logs: logs) {
            let reply = try await offThePool {
                try rawHTTP(port: secondPort, "POST", "/login", headers: ["Content-Type: application/json"], body: login)
            }
            cookie.withLock { $0 = reply.sessionCookie }
            return reply.status == 200
        }
        let session = try #require(cookie.withLock { $0 })
        #expect(try await offThePool { try rawHTTP(port: secondPort, "GET", "/api/devices", headers: ["Cookie: sb_session=\(session)"]) }.status == 200)

        // Removed: the session on B ends within the poll interval.
        try await PostgresCredentialCommands.removeUser(name: "carol", database: url)
        try await eventually("carol's session ended", logs: logs) {
            try await offThePool { try rawHTTP(port: secondPort, "GET", "/api/devices", headers: ["Cookie: sb_session=\(session)"]) }.status == 401
        }
        await #expect(throws: ServerConfigError.self) { try await PostgresCredentialCommands.removeUser(name: "carol", database: url) }
        try await first.stop()
        try await second.stop()
    }

    @Test func theTokensCommandsOfTheBinaryUseTheDatabase() async throws {
        guard let binary = BuiltProducts.path("serialbridge-server") else {
            Issue.record("the serialbridge-server executable is not built; run `swift build --build-tests` first")
            return
        }
        let url = try await PostgresTestCluster.newDatabase()
        let added = try await runBinary(binary, ["tokens", "add", "gw-cli", "--database", url])
        #expect(added.status == 0 && added.output.hasPrefix("sbg_"))
        let listed = try await runBinary(binary, ["tokens", "list", "--database", url])
        #expect(listed.status == 0 && listed.output.contains("gw-cli") && listed.output.contains("active"))
        let revoked = try await runBinary(binary, ["tokens", "revoke", "gw-cli", "--database", url])
        #expect(revoked.status == 0 && revoked.output.contains(#"of gateway "gw-cli""#))
        #expect(try await runBinary(binary, ["tokens", "list", "--database", url]).output.contains("revoked "))
        let both = try await runBinary(binary, ["tokens", "list", "--database", url, "--tokens", "/nonexistent"])
        #expect(both.status != 0 && both.error.contains("--tokens and --database both name where"))
        // serve takes tokens from the database and refuses a token file beside it.
        let serve = try await runBinary(binary, ["serve", "--database", url, "--tokens", "/nonexistent"])
        #expect(serve.status != 0 && serve.error.contains("tokens import --from FILE --database URL"))
    }

    @Test func databaseCredentialsNeedPostgreSQL() async throws {
        let logs = LogCapture()
        await #expect(throws: ServerConfigError.self) {
            _ = try await TestServer(gateway: "gw-test", logger: logs.logger("server")) { $0.tokensFromDatabase = true }
        }
    }
}
