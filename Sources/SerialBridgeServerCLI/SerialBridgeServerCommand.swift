import ArgumentParser
import Hummingbird
import Logging
import SerialBridgeLogging
import SerialBridgeServer
import SerialBridgeSystemd
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

@main
struct SerialBridgeServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serialbridge-server",
        abstract: "The SerialBridge server: gateways in, readings stored, dashboard out.",
        version: "0.1.0",
        subcommands: [Serve.self, Tokens.self, Users.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server.")

    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(name: .long, help: "SQLite database file (default serialbridge.sqlite).")
    var db: String?

    @Option(name: .long, help: ArgumentHelp(
        "PostgreSQL database URL, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require], shared by several instances; or set SERIALBRIDGE_DATABASE.",
        valueName: "url"
    ))
    var database: String?

    /// The storage the flags and SERIALBRIDGE_DATABASE choose: --database, else the variable, else
    /// --db (a SQLite file).
    func storageDatabase() throws -> ServerDatabase {
        let environment = getenv("SERIALBRIDGE_DATABASE").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        if database != nil && db != nil { throw ValidationError("--database and --db both name a database; use one") }
        guard let text = database ?? (db == nil ? environment : nil) else { return .sqlite(path: db ?? "serialbridge.sqlite") }
        do {
            return try ServerDatabase(parsing: text)
        } catch {
            throw ValidationError("\(database == nil ? "SERIALBRIDGE_DATABASE" : "--database"): \(error)")
        }
    }

    @Option(name: .long, help: "Gateway token file, written by `serialbridge-server tokens add`; re-read when it changes. Required with SQLite; with PostgreSQL the tokens are in the database (import a file with `tokens import --from FILE --database URL`).")
    var tokens: String?

    @Option(name: .long, help: "Users who may log in: htpasswd file with bcrypt hashes (`users add` or `htpasswd -B`); re-read when it changes. Not with PostgreSQL, whose users are in the database.")
    var users: String?

    @Option(name: .long, help: "File holding the admin token (API and /live as `Authorization: Bearer`); or set SERIALBRIDGE_ADMIN_TOKEN.")
    var adminTokenFile: String?

    @Option(name: .long, help: "Origin allowed to open /live and post with a session besides the same origin, e.g. https://dash.example.org (repeatable).")
    var allowedOrigin: [String] = []

    @Flag(name: .long, help: "Mark the session cookie Secure though this server speaks plain HTTP (it runs behind a TLS reverse proxy).")
    var secureCookies = false

    @Option(name: .long, help: "A session unused this long ends (e.g. 30m, 12h).")
    var sessionIdleTimeout = "12h"

    @Option(name: .long, help: "A session ends this long after login (e.g. 12h, 7d).")
    var sessionLifetime = "7d"

    @Option(name: .long, help: "Write the bound port to this file once listening.")
    var portFile: String?

    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error, critical); default SERIALBRIDGE_LOG_LEVEL, else info.")
    var logLevel: String?

    @Option(name: .long, help: "Log format: auto (journald under systemd, text otherwise), text, journald, json; default SERIALBRIDGE_LOG_FORMAT, else auto.")
    var logFormat: String?

    @Option(name: .long, help: "PEM certificate (chain) to serve HTTPS and wss:// with; needs --tls-key.")
    var tlsCertificate: String?

    @Option(name: .long, help: "PEM private key of --tls-certificate.")
    var tlsKey: String?

    @Option(name: .long, help: "PEM bundle of CAs whose client certificates are required (mutual TLS).")
    var tlsClientCa: String?

    @Flag(name: .long, help: "Do not accept permessage-deflate from clients.")
    var noCompression = false

    @Option(name: .long, help: "Heartbeat interval gateways are told to keep, in milliseconds.")
    var heartbeatMs: Int64 = 10_000

    @Option(name: .long, help: "Heartbeat intervals without a word before a gateway is marked offline and its connection closed.")
    var missedHeartbeats = 3

    @Option(name: .long, help: "Readings per second each gateway may send (it is paced above that; 0 for no limit).")
    var gatewayRateLimit: Double = 5_000

    @Option(name: .long, help: "Keep raw readings, events and command results this long (30d, 12h, forever).")
    var retention = "30d"

    @Option(name: .long, help: "Join other instances through this PostgreSQL database (postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]): live updates, online gateways, commands and taps across instances (docs/DEPLOYMENT.md). Default with --database postgres://…: that database.")
    var cluster: String?

    @Option(name: .long, help: "This instance's id in the cluster (default: host name and a random suffix, new at every start).")
    var instanceId: String?

    @Option(name: .long, help: "Keep the per-minute rollups of numeric values this long.")
    var minuteRollupRetention = "90d"

    @Option(name: .long, help: "Keep the hourly rollups of numeric values this long.")
    var hourRollupRetention = "730d"

    /// The retention flags as a policy; a bad age is a usage error naming its flag.
    func retentionPolicy() throws -> RetentionPolicy {
        func age(_ flag: String, _ text: String) throws -> Int64? {
            do {
                return try RetentionPolicy.parseAge(text)
            } catch {
                throw ValidationError("--\(flag): \(error)")
            }
        }
        return RetentionPolicy(
            raw: try age("retention", retention),
            minuteRollups: try age("minute-rollup-retention", minuteRollupRetention),
            hourRollups: try age("hour-rollup-retention", hourRollupRetention)
        )
    }

    func validate() throws {
        _ = try retentionPolicy()
        if case .postgres = try storageDatabase() {
            if tokens != nil {
                throw ValidationError("with a PostgreSQL database the gateway tokens are in the database, not in --tokens; import the file once with `serialbridge-server tokens import --from FILE --database URL`")
            }
            if users != nil {
                throw ValidationError("with a PostgreSQL database the users are in the database, not in --users; import the file once with `serialbridge-server users import --from FILE --database URL`")
            }
        } else if tokens == nil {
            throw ValidationError("--tokens FILE is required with SQLite (create it with `serialbridge-server tokens add GATEWAY --tokens FILE`)")
        }
        guard heartbeatMs >= 100 else { throw ValidationError("--heartbeat-ms must be at least 100") }
        guard missedHeartbeats >= 1 else { throw ValidationError("--missed-heartbeats must be at least 1") }
        guard gatewayRateLimit >= 0 else { throw ValidationError("--gateway-rate-limit must be 0 (no limit) or more") }
    }

    func run() async throws {
        do {
            try LoggingSetup.resolve(levelFlag: logLevel, formatFlag: logFormat, environment: ProcessEnvironment.current()).bootstrap()
        } catch {
            throw ValidationError(error.description)
        }
        let logger = Logger(label: "serialbridge-server")
        // With PostgreSQL (no --tokens) the database's tokens replace this empty store when the server is made.
        var tokenStore = TokenStore([])
        do {
            if let tokens {
                tokenStore = try TokenStore.load(file: tokens)
                if !tokenStore.entries().entries.contains(where: { $0.revoked == nil }) {
                    logger.warning("\(tokens) has no active gateway token; issue one with `serialbridge-server tokens add GATEWAY --tokens \(tokens)`")
                }
            }
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }
        var options = ServerOptions(
            host: host, port: port, databasePath: db ?? "serialbridge.sqlite", tokens: tokenStore, heartbeatMs: heartbeatMs, compression: !noCompression,
            missedHeartbeats: missedHeartbeats,
            gatewayRateLimit: gatewayRateLimit > 0 ? RateLimit(perSecond: gatewayRateLimit, burst: gatewayRateLimit * 10) : nil
        )
        options.retention = try retentionPolicy()
        options.database = try storageDatabase()
        // Instances on one PostgreSQL database form a cluster over it (docs/DEPLOYMENT.md);
        // `--cluster` names another database for the bus, or joins SQLite instances.
        do {
            if let cluster {
                options.cluster = try ClusterOptions(url: cluster, instanceID: instanceId)
            } else if case .postgres(let url) = options.database {
                options.cluster = try ClusterOptions(url: url, instanceID: instanceId)
            } else if instanceId != nil {
                logger.critical("--instance-id needs --database postgres://… or --cluster")
                throw ExitCode(2)
            }
        } catch let error as ClusterOptionsError {
            logger.critical("--cluster: \(error)")
            throw ExitCode(2)
        }
        options.tokensFromDatabase = tokens == nil
        do {
            options.auth = try authOptions()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }
        var tls: ServerTLS?
        switch (tlsCertificate, tlsKey) {
        case (let certificate?, let key?):
            do {
                let loaded = try ServerTLS(certificateFile: certificate, keyFile: key, clientCAFile: tlsClientCa)
                options.tls = try loaded.configuration
                tls = loaded
            } catch {
                logger.critical("cannot use --tls-certificate \(certificate) / --tls-key \(key): \(error)")
                throw ExitCode(2)
            }
        case (nil, nil):
            if tlsClientCa != nil {
                logger.critical("--tls-client-ca needs --tls-certificate and --tls-key")
                throw ExitCode(2)
            }
        default:
            logger.critical("--tls-certificate and --tls-key go together")
            throw ExitCode(2)
        }
        let (http, ws) = options.tls == nil ? ("http", "ws") : ("https", "wss")
        let portFile = self.portFile
        // systemd (Type=notify): READY=1 once listening, WATCHDOG=1 while the event loops answer,
        // STOPPING=1 at shutdown; nothing at all without NOTIFY_SOCKET (docs/OPERATIONS.md).
        let notifier = ServiceNotifier(environment: { getenv($0).map { String(cString: $0) } }, logger: logger)
        let storage: OpenedStorage
        do {
            storage = try await options.database.open(logger: logger)
            logger.info("storage: \(options.database)")
            if let credentials = storage.credentials, !credentials.tokens.entries().entries.contains(where: { $0.revoked == nil }) {
                logger.warning("the database has no active gateway token; issue one with `serialbridge-server tokens add GATEWAY --database URL`")
            }
        } catch {
            // Unreachable, refused, or a schema that cannot be migrated: say so and stop.
            logger.critical(error is PostgresStorageError ? "\(error)" : "cannot open \(options.database): \(error)")
            throw ExitCode(3)
        }
        do {
            var services = try ServerApplication.services(options: options, storage: storage, logger: logger) { boundPort in
                logger.info("listening on \(http)://\(host):\(boundPort)/ (gateways: \(ws)://\(host):\(boundPort)/gateway/v1)")
                if let portFile { writeFile(portFile, "\(boundPort)\n") }
                notifier.ready(status: "listening on \(http)://\(host):\(boundPort)/")
            }
            if let interval = notifier.watchdogInterval {
                // First, so it stops last.
                services.insert(ServiceWatchdog(notifier: notifier, interval: interval, checks: [EventLoopProbe().sample], logger: logger), at: 0)
            }
            // Always trapped, so that a SIGHUP (systemctl reload) never ends the server; only the
            // TLS certificate has something to reload (token and users files reload on change).
            let reloadable = tls
            services.append(ReloadOnHangup(logger: logger) {
                notifier.reloading(status: "reloading")
                defer { notifier.ready(status: "reloaded") }
                if let tls = reloadable {
                    do {
                        try tls.reload()
                        logger.info("reloaded the TLS certificate \(tls.certificateFile) and key \(tls.keyFile)")
                    } catch {
                        logger.error("cannot reload the TLS certificate \(tls.certificateFile) / key \(tls.keyFile), keeping the previous ones: \(error)")
                    }
                } else {
                    logger.info("nothing to reload: no TLS certificate (the token and users files are re-read when they change)")
                }
            })
            // Last, so it runs first at shutdown.
            services.append(ShutdownNotice(notifier: notifier) { "stopping: closing gateway links with 1001" })
            logSecurity(options.auth, logger: logger)
            let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        } catch let error as ServerConfigError {
            // A refusal to start (e.g. no login beyond loopback): the message says what to do.
            logger.critical("\(error)")
            throw ExitCode(2)
        }
    }

    /// The people side of the options, from the flags and SERIALBRIDGE_ADMIN_TOKEN.
    func authOptions() throws(ServerConfigError) -> AuthOptions {
        var auth = AuthOptions(usersFile: users, allowedOrigins: allowedOrigin, secureCookies: secureCookies)
        // PostgreSQL keeps the users (validate() refuses --users with it).
        if case .postgres? = try? storageDatabase() { auth.usersFromDatabase = true }
        let environment = getenv("SERIALBRIDGE_ADMIN_TOKEN").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        switch (adminTokenFile, environment) {
        case (let file?, nil): auth.adminToken = try AdminToken.load(file: file)
        case (nil, let token?): auth.adminToken = try AdminToken(token, origin: "SERIALBRIDGE_ADMIN_TOKEN")
        case (nil, nil): break
        case (_?, _?): throw ServerConfigError("both --admin-token-file and SERIALBRIDGE_ADMIN_TOKEN are set; use one")
        }
        guard let idle = DurationText.parse(sessionIdleTimeout) else {
            throw ServerConfigError("--session-idle-timeout \(sessionIdleTimeout): expected a number and s, m, h or d, e.g. 12h")
        }
        guard let lifetime = DurationText.parse(sessionLifetime) else {
            throw ServerConfigError("--session-lifetime \(sessionLifetime): expected a number and s, m, h or d, e.g. 7d")
        }
        auth.sessions = .init(idle: idle, lifetime: lifetime)
        return auth
    }

    func logSecurity(_ auth: AuthOptions, logger: Logger) {
        if auth.usersFile == nil && !auth.usersFromDatabase && auth.adminToken == nil {
            logger.notice("login is off: no users and no admin token, so the server answers only on loopback and to loopback names")
        } else {
            logger.info("login required (users: \(auth.usersFromDatabase ? "database" : auth.usersFile ?? "none"), admin token: \(auth.adminToken == nil ? "no" : "yes"))")
        }
    }
}

/// Prints a line on standard error (messages for people; standard output stays for data).
func printError(_ text: String) {
    writeError(text + "\n")
}

/// Writes text on standard error as it is (prompts).
func writeError(_ text: String) {
    _ = Array(text.utf8).withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

func writeFile(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}
