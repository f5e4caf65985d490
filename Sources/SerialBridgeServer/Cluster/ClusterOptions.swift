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

    /// Options from a `postgres://` (or `postgresql://`) URL, as `--database` takes it
    /// (``PostgresURL``): `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`.
    public init(url: String, instanceID: String? = nil) throws(ClusterOptionsError) {
        let parsed: PostgresURL
        do {
            parsed = try PostgresURL(url)
        } catch {
            throw ClusterOptionsError(error.description)
        }
        try self.init(url: parsed, instanceID: instanceID)
    }

    /// Options for the database `url` (the bus shares the storage's database).
    public init(url: PostgresURL, instanceID: String? = nil) throws(ClusterOptionsError) {
        do {
            connection = try url.connectionConfiguration()
        } catch {
            throw ClusterOptionsError("\(url): cannot set up TLS: \(error)")
        }
        displayURL = url.description
        self.instanceID = instanceID ?? Self.defaultInstanceID()
    }

    /// `HOSTNAME-xxxxxx`: readable in logs and tables, new at every start.
    static func defaultInstanceID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "server"
        return host + "-" + String(UInt32.random(in: 0 ... 0xFF_FFFF), radix: 16)
    }
}

/// A cluster URL or option that cannot be used, with the reason.
public struct ClusterOptionsError: Error, CustomStringConvertible {
    /// What is wrong.
    public let description: String

    init(_ description: String) { self.description = description }
}
