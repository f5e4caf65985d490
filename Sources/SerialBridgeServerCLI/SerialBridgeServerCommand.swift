import ArgumentParser
import Hummingbird
import Logging
import SerialBridgeServer
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
        subcommands: [Serve.self, Token.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server.")

    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(name: .long, help: "SQLite database file.")
    var db = "serialbridge.sqlite"

    @Option(name: .long, help: "Token file: lines of `GATEWAY-ID TOKEN`.")
    var tokens: String

    @Option(name: .long, help: "Write the bound port to this file once listening.")
    var portFile: String?

    @Option(name: .long, help: "Log level.")
    var logLevel = "info"

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
        guard heartbeatMs >= 100 else { throw ValidationError("--heartbeat-ms must be at least 100") }
        guard missedHeartbeats >= 1 else { throw ValidationError("--missed-heartbeats must be at least 1") }
        guard gatewayRateLimit >= 0 else { throw ValidationError("--gateway-rate-limit must be 0 (no limit) or more") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "serialbridge-server")
        let tokenStore: TokenStore
        do {
            tokenStore = try TokenStore.load(file: tokens)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }
        var options = ServerOptions(
            host: host, port: port, databasePath: db, tokens: tokenStore, heartbeatMs: heartbeatMs, compression: !noCompression,
            missedHeartbeats: missedHeartbeats,
            gatewayRateLimit: gatewayRateLimit > 0 ? RateLimit(perSecond: gatewayRateLimit, burst: gatewayRateLimit * 10) : nil
        )
        options.retention = try retentionPolicy()
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
        var services = try ServerApplication.services(options: options, logger: logger) { boundPort in
            logger.info("listening on \(http)://\(host):\(boundPort)/ (gateways: \(ws)://\(host):\(boundPort)/gateway/v1)")
            if let portFile { writeFile(portFile, "\(boundPort)\n") }
        }
        if let tls {
            services.append(ReloadOnHangup(logger: logger) {
                do {
                    try tls.reload()
                    logger.info("reloaded the TLS certificate \(tls.certificateFile) and key \(tls.keyFile)")
                } catch {
                    logger.error("cannot reload the TLS certificate \(tls.certificateFile) / key \(tls.keyFile), keeping the previous ones: \(error)")
                }
            })
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue a token for a gateway: appends `GATEWAY-ID TOKEN` to the token file and prints the token."
    )

    @Argument(help: "Gateway id.")
    var gateway: String

    @Option(name: .long, help: "Token file to append to.")
    var tokens: String

    func run() async throws {
        var bytes = [UInt8](repeating: 0, count: 24)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0, bytes.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw ValidationError("cannot read /dev/urandom")
        }
        close(fd)
        let hex = Array("0123456789abcdef".utf8)
        let token = String(decoding: bytes.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 0xF)]] }, as: UTF8.self)
        let line = "\(gateway) \(token)\n"
        let out = open(tokens, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw ValidationError("cannot open \(tokens): \(String(cString: strerror(errno)))") }
        _ = Array(line.utf8).withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
        close(out)
        print(token)
    }
}

func writeFile(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}
