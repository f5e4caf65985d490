import Foundation
import NIOSSL
import PostgresNIO

/// How an instance joins a cluster of server instances on PostgreSQL (docs/DEPLOYMENT.md).
public struct ClusterOptions: Sendable {
    /// Where the bus connects: host, port, user, password, database and TLS mode.
    public var connection: PostgresConnection.Configuration
    /// The URL as given, with its password hidden (for logs).
    public var displayURL: String
    /// This instance's id, unique in the cluster: by default the host name and a random suffix,
    /// so a restarted instance is a new one and the old one's gateways expire.
    public var instanceID: String
    /// How often this instance renews its row in `cluster_instances` and removes expired ones.
    public var heartbeat: Duration = .seconds(5)
    /// An instance not heard from for this long is dead: its gateways are offline. Longer than a
    /// few heartbeats, so a slow database does not flap every gateway.
    public var expiry: Duration = .seconds(20)
    /// First and longest wait before reconnecting a lost bus connection.
    public var reconnectDelay: ClosedRange<Duration> = .milliseconds(100) ... .seconds(5)
    /// How long a command or tap request waits for the instance holding the gateway to pick it up,
    /// on top of the command's own timeout.
    public var routingMargin: Duration = .seconds(5)

    /// Options from a `postgres://` (or `postgresql://`) URL:
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`.
    /// `sslmode` defaults to `prefer`.
    public init(url: String, instanceID: String? = nil) throws(ClusterOptionsError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
              ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw ClusterOptionsError("\(Self.hidePassword(url)): expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ClusterOptionsError("\(Self.hidePassword(url)): the URL names no host")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !database.isEmpty else { throw ClusterOptionsError("\(Self.hidePassword(url)): the URL names no database") }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch mode {
            case "disable": tls = .disable
            case "prefer", "allow": tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case "require", "verify-ca", "verify-full": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            default: throw ClusterOptionsError("\(Self.hidePassword(url)): sslmode \(mode) is not one of disable, prefer, require")
            }
        } catch let error as ClusterOptionsError {
            throw error
        } catch {
            throw ClusterOptionsError("\(Self.hidePassword(url)): cannot set up TLS: \(error)")
        }
        connection = PostgresConnection.Configuration(
            host: host, port: components.port ?? 5432, username: components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "postgres",
            password: components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }, database: database, tls: tls
        )
        displayURL = Self.hidePassword(url)
        self.instanceID = instanceID ?? Self.defaultInstanceID()
    }

    /// `HOSTNAME-xxxxxx`: readable in logs and tables, new at every start.
    static func defaultInstanceID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "server"
        return host + "-" + String(UInt32.random(in: 0 ... 0xFF_FFFF), radix: 16)
    }

    static func hidePassword(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}

/// A cluster URL or option that cannot be used, with the reason.
public struct ClusterOptionsError: Error, CustomStringConvertible {
    /// What is wrong.
    public let description: String

    init(_ description: String) { self.description = description }
}
