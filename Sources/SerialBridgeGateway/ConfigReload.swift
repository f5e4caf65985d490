/// What a reload of the config file (SIGHUP) may change in a running gateway, decided as a pure
/// function of the running and the freshly loaded config.
///
/// Live: the ports and buses, the profile folders and the default encoding — the sessions are
/// re-planned and only those whose plan changed restart. Everything else is built into a running
/// part (the uplink's identity, address, TLS and timings; the spool; the metrics listener; the
/// log level; discovery) and changes only at restart: the reload keeps the running value and
/// names the setting as needing a restart.
struct ConfigReload {
    /// The config to run with: `running` with the live settings of `fresh`.
    var config: GatewayConfig
    /// The live settings that changed (config keys), applied by this reload.
    var applied: [String]
    /// The settings that changed but need a restart (config keys), kept as they were.
    var needsRestart: [String]

    /// Settings applied live, by config key.
    private static let live: [(key: String, differs: @Sendable (GatewayConfig, GatewayConfig) -> Bool, take: @Sendable (inout GatewayConfig, GatewayConfig) -> Void)] = [
        ("ports", { $0.ports != $1.ports }, { $0.ports = $1.ports }),
        ("buses", { $0.buses != $1.buses }, { $0.buses = $1.buses }),
        ("profileFolders", { $0.profileFolders != $1.profileFolders }, { $0.profileFolders = $1.profileFolders }),
        ("encoding", { $0.encoding != $1.encoding }, { $0.encoding = $1.encoding }),
    ]

    /// Settings that need a restart, by config key.
    private static let fixed: [(key: String, differs: @Sendable (GatewayConfig, GatewayConfig) -> Bool)] = [
        ("gatewayId", { $0.gatewayId != $1.gatewayId }),
        ("server.url", { $0.serverURL != $1.serverURL }),
        ("server.fallbackUrls", { $0.fallbackURLs != $1.fallbackURLs }),
        ("server.tokenFile", { $0.tokenFile != $1.tokenFile }),
        ("server.tls/proxy/compression", { $0.uplink != $1.uplink }),
        ("uplink.maxConnectionAgeMs", { $0.maxConnectionAge != $1.maxConnectionAge }),
        ("uplink.missedHeartbeats", { $0.missedHeartbeats != $1.missedHeartbeats }),
        ("uplink.connectTimeoutMs", { $0.connectTimeout != $1.connectTimeout }),
        ("uplink.lingerMs", { $0.linger != $1.linger }),
        ("readIntervalMs", { $0.readInterval != $1.readInterval }),
        ("stateDirectory", { $0.stateDirectory != $1.stateDirectory }),
        ("spool", { $0.spool != $1.spool }),
        ("metrics.listen", { $0.metricsListen != $1.metricsListen }),
        ("discovery", { $0.discovery != $1.discovery }),
        ("reconnect", {
            ($0.backoff.initial, $0.backoff.multiplier, $0.backoff.cap) != ($1.backoff.initial, $1.backoff.multiplier, $1.backoff.cap)
        }),
        ("drainTimeoutMs", { $0.drainTimeout != $1.drainTimeout }),
        ("logLevel", { $0.logLevel != $1.logLevel }),
        ("logFormat", { $0.logFormat != $1.logFormat }),
    ]

    /// Compares `running` with `fresh`.
    init(running: GatewayConfig, fresh: GatewayConfig) {
        var config = running
        applied = []
        for setting in Self.live where setting.differs(running, fresh) {
            setting.take(&config, fresh)
            applied.append(setting.key)
        }
        needsRestart = Self.fixed.filter { $0.differs(running, fresh) }.map(\.key)
        self.config = config
    }
}
