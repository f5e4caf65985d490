import Logging
import SerialBridgeJSON
import SerialBridgeProfiles
import SerialBridgeSpool
import SerialBridgeUplink
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// The gateway, composed: epoch, profiles, device sessions and the uplink, run as a service group.
///
/// Shutdown order is explicit: device sessions stop first (no new readings), then the uplink
/// drains what is queued and closes the link.
public struct Gateway: Sendable {
    /// The software version reported in `hello`.
    public static let softwareVersion = "0.1.0"

    /// The loaded configuration.
    public let config: GatewayConfig
    /// This run's epoch.
    public let epoch: Int64
    /// Readings waiting for acknowledgement.
    public let queue: OutboundQueue
    /// The link to the server.
    public let uplink: Uplink
    /// One session per configured port.
    public let sessions: [DeviceSession]
    /// Every loaded profile, for discovery.
    public let profiles: [DeviceProfile]
    private let logger: Logger

    /// Loads profiles and the token, advances the epoch, and builds every part.
    /// - Throws: ``GatewayStartError`` with every problem found, so one start reports them all.
    public init(config: GatewayConfig, logger: Logger) throws(GatewayStartError) {
        var problems: [String] = []
        var library = ProfileLibrary()
        do {
            library = try ProfileLibrary.load(paths: config.profileFolders)
        } catch {
            problems.append(contentsOf: error.errors.map(\.description))
        }
        var token = ""
        do {
            token = String(decoding: try FileContents.read(config.tokenFile), as: UTF8.self)
                .trimmingCharacters(in: " \n\r\t")
            if token.isEmpty { problems.append("\(config.tokenFile): the token file is empty") }
        } catch {
            problems.append("\(config.tokenFile): cannot read token file: \(error)")
        }
        var bound: [(GatewayConfig.StaticPort, DeviceProfile)] = []
        for port in config.ports {
            if let profile = library.profiles[port.profile] {
                bound.append((port, profile))
            } else if problems.isEmpty {
                let known = library.profiles.keys.sorted().joined(separator: ", ")
                problems.append("port \"\(port.device)\": no profile named \"\(port.profile)\" (loaded: \(known.isEmpty ? "none" : known))")
            }
        }
        guard problems.isEmpty else { throw GatewayStartError(problems: problems) }
        // The spool first (it may hold frames of later epochs than the epoch file says), then the
        // epoch, durably, before anything of this run is numbered.
        let spool: Spool
        let epoch: Int64
        do {
            spool = try Spool.open(directory: config.stateDirectory + "/spool", configuration: config.spool, logger: logger)
        } catch {
            throw GatewayStartError(problems: [error.description])
        }
        do {
            epoch = try EpochStore.advance(in: config.stateDirectory, above: spool.recovery.newestEpoch)
        } catch {
            spool.close()
            throw GatewayStartError(problems: [error.description])
        }
        self.config = config
        self.profiles = library.profiles.values.sorted { $0.name < $1.name }
        self.epoch = epoch
        self.logger = logger
        self.queue = OutboundQueue(gateway: config.gatewayId, epoch: epoch, spool: spool)
        self.uplink = Uplink(
            configuration: .init(
                url: config.serverURL, token: token, gateway: config.gatewayId,
                software: Self.softwareVersion, backoff: config.backoff, drainTimeout: config.drainTimeout
            ),
            queue: queue, logger: logger
        )
        let queue = self.queue
        self.sessions = bound.map { port, profile in
            DeviceSession(device: port.device, path: port.path, profile: profile, queue: queue, logger: logger)
        }
    }

    /// A service group running the gateway; `signals` trigger graceful shutdown.
    public func serviceGroup(signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        logger.info("gateway \(config.gatewayId) starting: epoch \(epoch), \(sessions.count) device(s), server \(config.serverURL)")
        // ServiceGroup stops services in reverse order: sessions first, then the uplink drains.
        var services: [any Service] = [uplink, DeviceSessions(sessions: sessions)]
        if config.discovery {
            let staticPaths = Set(config.ports.flatMap { [$0.path, Self.resolvedLink($0.path)] })
            services.append(DiscoveredDevices(profiles: profiles, staticPaths: staticPaths, queue: queue, logger: logger))
        }
        return ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: signals,
                logger: logger
            )
        )
    }
}

extension Gateway {
    /// Where a symlink such as `/dev/serial/by-id/…` points, so discovery leaves a statically
    /// bound device alone whichever name the config uses.
    static func resolvedLink(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Every device session, run side by side and cancelled together on graceful shutdown.
struct DeviceSessions: Service {
    let sessions: [DeviceSession]

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for session in sessions {
                    group.addTask { await session.run() }
                }
            }
        }
    }
}

/// The gateway could not start; every problem found is listed.
public struct GatewayStartError: Error, Sendable, CustomStringConvertible {
    /// One line per problem.
    public var problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}
