import Logging
import Synchronization
import SerialBridgeServer
import Testing

/// Dashboard sessions shared through PostgreSQL: any instance accepts a session any instance
/// created, and a logout on one ends it on all.
@Suite(
    "Dashboard sessions in PostgreSQL: shared by instances, logout everywhere, only hashes stored", .serialized,
    .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage))
)
struct PostgresSessionTests {
    private func instance(_ database: ServerDatabase, _ logs: LogCapture, _ name: String) async throws -> TestServer {
        try await TestServer(gateway: "gw-unused", logger: logs.logger(name)) { options in
            options.database = database
            options.auth.usersFromDatabase = true
        }
    }

    @Test func aSessionCreatedOnOneInstanceIsValidOnAnotherAndLogoutEndsItEverywhere() async throws {
        let logs = LogCapture()
        let text = try await PostgresTestCluster.newDatabase()
        let database = try ServerDatabase(parsing: text)
        try await PostgresCredentialCommands.addUser(name: "dora", password: "correct horse", database: PostgresURL(text), cost: 4)
        let first = try await instance(database, logs, "server-a")
        let second = try await instance(database, logs, "server-b")
        let (firstPort, secondPort) = (first.port, second.port)

        // Logged in on A through the login route (the users poll may need a moment to see dora).
        let cookie = Mutex<String?>(nil)
        try await eventually("dora logs in on A", logs: logs) {
            let reply = try await offThePool {
                try rawHTTP(port: firstPort, "POST", "/login", headers: ["Content-Type: application/json"], body: #"{"user":"dora","password":"correct horse"}"#)
            }
            cookie.withLock { $0 = reply.sessionCookie }
            return reply.status == 200
        }
        let session = try #require(cookie.withLock { $0 })
        let onB: @Sendable () async throws -> Int = { try await offThePool { try rawHTTP(port: secondPort, "GET", "/api/devices", headers: ["Cookie: sb_session=\(session)"]) }.status }
        // Right away on B: no affinity, no poll to wait for.
        #expect(try await onB() == 200)
        #expect(try await offThePool { try rawHTTP(port: secondPort, "GET", "/api/session", headers: ["Cookie: sb_session=\(session)"]) }.status == 200)

        // Only the SHA-256 of the cookie value is stored.
        let stored = try await psql(text, "SELECT encode(hash, 'hex') || ' ' || user_name FROM dashboard_sessions")
        #expect(stored.contains(" dora"))
        #expect(!stored.contains(session))

        // Logout on A: B refuses the cookie within its cache time.
        let logout = try await offThePool { try rawHTTP(port: firstPort, "POST", "/logout", headers: ["Cookie: sb_session=\(session)"]) }
        #expect(logout.status == 204)
        #expect(try await offThePool { try rawHTTP(port: firstPort, "GET", "/api/devices", headers: ["Cookie: sb_session=\(session)"]) }.status == 401)
        try await eventually("B refuses the logged-out session", logs: logs) { try await onB() == 401 }
        #expect(try await psql(text, "SELECT count(*) FROM dashboard_sessions").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        try await first.stop()
        try await second.stop()
    }

    @Test func theAbsoluteLifetimeIsEnforcedOnTheDatabasesClockThroughTheCache() async throws {
        let logs = LogCapture()
        let text = try await PostgresTestCluster.newDatabase()
        try await PostgresCredentialCommands.addUser(name: "finn", password: "correct horse", database: PostgresURL(text), cost: 4)
        let database = try ServerDatabase(parsing: text)
        let server = try await TestServer(gateway: "gw-unused", logger: logs.logger("server")) { options in
            options.database = database
            options.auth.usersFromDatabase = true
            options.auth.sessions = .init(idle: .seconds(3600), lifetime: .seconds(3))
        }
        let port = server.port
        let cookie = Mutex<String?>(nil)
        try await eventually("finn logs in", logs: logs) {
            let reply = try await offThePool {
                try rawHTTP(port: port, "POST", "/login", headers: ["Content-Type: application/json"], body: #"{"user":"finn","password":"correct horse"}"#)
            }
            cookie.withLock { $0 = reply.sessionCookie }
            return reply.status == 200
        }
        let session = try #require(cookie.withLock { $0 })
        #expect(try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(session)"]) }.status == 200)
        try await eventually("the session outlived its lifetime", logs: logs) {
            try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(session)"]) }.status == 401
        }
        try await server.stop()
    }

    @Test func removingAUserEndsTheirSessionsOnEveryInstance() async throws {
        let logs = LogCapture()
        let text = try await PostgresTestCluster.newDatabase()
        let database = try ServerDatabase(parsing: text)
        let url = try PostgresURL(text)
        try await PostgresCredentialCommands.addUser(name: "erin", password: "correct horse", database: url, cost: 4)
        let first = try await instance(database, logs, "server-a")
        let second = try await instance(database, logs, "server-b")
        let (firstPort, secondPort) = (first.port, second.port)
        let cookie = Mutex<String?>(nil)
        try await eventually("erin logs in on A", logs: logs) {
            let reply = try await offThePool {
                try rawHTTP(port: firstPort, "POST", "/login", headers: ["Content-Type: application/json"], body: #"{"user":"erin","password":"correct horse"}"#)
            }
            cookie.withLock { $0 = reply.sessionCookie }
            return reply.status == 200
        }
        let session = try #require(cookie.withLock { $0 })
        #expect(try await offThePool { try rawHTTP(port: secondPort, "GET", "/api/devices", headers: ["Cookie: sb_session=\(session)"]) }.status == 200)

        try await PostgresCredentialCommands.removeUser(name: "erin", database: url)
        for port in [firstPort, secondPort] {
            try await eventually("erin's session ended on \(port)", logs: logs) {
                try await offThePool { try rawHTTP(port: port, "GET", "/api/devices", headers: ["Cookie: sb_session=\(session)"]) }.status == 401
            }
        }
        try await eventually("erin's sessions deleted from the table", logs: logs) {
            try await psql(text, "SELECT count(*) FROM dashboard_sessions").trimmingCharacters(in: .whitespacesAndNewlines) == "0"
        }
        try await first.stop()
        try await second.stop()
    }
}
