import Foundation
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeLogging
import Testing

@Suite("Config: environment overrides and defaults")
struct ConfigEnvironmentTests {
    let none = ConfigDefaults(profileFolders: [])

    func folder(_ json: String = configJSON()) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try directory.write("gw.json", json)
        try directory.write("token", "secret\n")
        return directory
    }

    @Test func theEnvironmentOverridesEveryKeyItNames() throws {
        let directory = try folder(configJSON([#""metrics": { "listen": "127.0.0.1:9464" }"#, #""logLevel": "debug""#, #""logFormat": "text""#]))
        let environment = [
            "SERIALBRIDGE_GATEWAY_ID": "gw-from-env",
            "SERIALBRIDGE_SERVER_URL": "wss://cloud.example.org/gateway/v1",
            "SERIALBRIDGE_TOKEN_FILE": "/run/credentials/serialbridge.service/token",
            "SERIALBRIDGE_STATE_DIRECTORY": "/var/lib/serialbridge",
            "SERIALBRIDGE_PROFILE_FOLDERS": "/a:/b::relative",
            "SERIALBRIDGE_METRICS_LISTEN": "[::1]:9100",
            "SERIALBRIDGE_LOG_LEVEL": "warning",
            "SERIALBRIDGE_LOG_FORMAT": "json",
            "UNRELATED": "x",
        ]
        let config = try GatewayConfig.load(file: directory.file("gw.json"), environment: environment, defaults: none)
        #expect(config.gatewayId == "gw-from-env")
        #expect("\(config.serverURL)" == "wss://cloud.example.org:443/gateway/v1")
        #expect(config.uplink.tls != nil, "a wss:// URL from the environment gets TLS with the system trust store")
        #expect(config.tokenFile == "/run/credentials/serialbridge.service/token")
        #expect(config.stateDirectory == "/var/lib/serialbridge")
        #expect(config.profileFolders == ["/a", "/b", "relative"], "taken as given: not resolved against the config's folder")
        #expect(config.profileFoldersOrigin == .environment)
        #expect(config.metricsListen == MetricsListen(host: "::1", port: 9100))
        #expect(config.logLevel == "warning")
        #expect(config.logFormat == .json)
        #expect(config.overridden == ConfigOverrides.all.map(\.name))
        #expect(config.environment["UNRELATED"] == nil, "only the config's variables are kept")
    }

    @Test func withoutTheEnvironmentTheFileHolds() throws {
        let directory = try folder(configJSON([#""logFormat": "journald""#]))
        let config = try GatewayConfig.load(file: directory.file("gw.json"), environment: [:], defaults: none)
        #expect(config.gatewayId == "gw-1")
        #expect(config.tokenFile == directory.file("token"))
        #expect(config.stateDirectory == directory.file("state"))
        #expect(config.profileFolders == [Repository.profiles])
        #expect(config.profileFoldersOrigin == .file)
        #expect(config.metricsListen == .default)
        #expect(config.logLevel == "info")
        #expect(config.logFormat == .journald)
        #expect(config.overridden.isEmpty)
    }

    @Test func anEmptyVariableCountsAsUnset() throws {
        let directory = try folder()
        let config = try GatewayConfig.load(
            file: directory.file("gw.json"), environment: ["SERIALBRIDGE_GATEWAY_ID": "", "SERIALBRIDGE_LOG_LEVEL": ""], defaults: none
        )
        #expect(config.gatewayId == "gw-1")
        #expect(config.logLevel == "info")
        #expect(config.overridden.isEmpty)
    }

    @Test func requiredKeysMayComeFromTheEnvironmentAlone() throws {
        let directory = try folder(#"{ "profileFolders": [], "discovery": false }"#)
        let environment = [
            "SERIALBRIDGE_GATEWAY_ID": "gw-env", "SERIALBRIDGE_SERVER_URL": "ws://127.0.0.1:9/gateway/v1", "SERIALBRIDGE_TOKEN_FILE": directory.file("token"),
        ]
        let config = try GatewayConfig.load(file: directory.file("gw.json"), environment: environment, defaults: none)
        #expect(config.gatewayId == "gw-env")
        #expect(config.uplink.tls == nil)
        #expect(GatewayPreflight.check(config, environment: { _ in nil }).problems.isEmpty)
    }

    @Test func metricsCanBeTurnedOffFromTheEnvironment() throws {
        let directory = try folder()
        let config = try GatewayConfig.load(file: directory.file("gw.json"), environment: ["SERIALBRIDGE_METRICS_LISTEN": "off"], defaults: none)
        #expect(config.metricsListen == nil)
    }

    @Test func aReloadAppliesTheSameOverrides() throws {
        let directory = try folder()
        let environment = ["SERIALBRIDGE_PROFILE_FOLDERS": Repository.profiles, "SERIALBRIDGE_GATEWAY_ID": "gw-env"]
        let first = try GatewayConfig.load(file: directory.file("gw.json"), environment: environment, defaults: none)
        try directory.write("gw.json", configJSON([#""profileFolders": ["elsewhere"]"#], without: ["profileFolders"]))
        let again = try first.reloaded()
        #expect(again.gatewayId == "gw-env")
        #expect(again.profileFolders == [Repository.profiles])
    }

    @Test func withoutProfileFoldersTheDefaultsThatExistAreRead() throws {
        let directory = try folder(configJSON(without: ["profileFolders"]))
        try FileManager.default.createDirectory(atPath: directory.file("shipped"), withIntermediateDirectories: true)
        let defaults = ConfigDefaults(profileFolders: [directory.file("shipped"), directory.file("profiles.d")])
        let config = try GatewayConfig.load(file: directory.file("gw.json"), defaults: defaults)
        #expect(config.profileFolders == [directory.file("shipped")], "a missing default folder is skipped, not an error")
        #expect(config.profileFoldersOrigin == .defaults)
        let listed = try GatewayConfig.load(file: directory.file("gw.json"), environment: [:], defaults: ConfigDefaults(profileFolders: ["/nonexistent/sb"]))
        #expect(listed.profileFolders.isEmpty)
        let empty = try folder(configJSON([#""profileFolders": []"#], without: ["profileFolders"]))
        #expect(try GatewayConfig.load(file: empty.file("gw.json"), defaults: defaults).profileFolders.isEmpty, "an explicit empty list means none")
    }

    @Test func theShippedProfilesAreFoundBesideTheExecutable() throws {
        let prefix = try TemporaryDirectory()
        let shipped = prefix.file("share/serialbridge/profiles")
        #expect(ConfigDefaults.installed(executable: prefix.file("bin/serialbridge")).profileFolders
            == ["/usr/share/serialbridge/profiles", "/etc/serialbridge/profiles.d"], "no PREFIX/share folder: the system one")
        try FileManager.default.createDirectory(atPath: shipped, withIntermediateDirectories: true)
        #expect(ConfigDefaults.installed(executable: prefix.file("bin/serialbridge")).profileFolders == [shipped, "/etc/serialbridge/profiles.d"])
        #expect(ConfigDefaults.installed(executable: prefix.file("libexec/serialbridge")).profileFolders.first == "/usr/share/serialbridge/profiles")
        #expect(ConfigDefaults.installed(executable: nil).profileFolders == ["/usr/share/serialbridge/profiles", "/etc/serialbridge/profiles.d"])
    }

    @Test func profilesInTheDefaultFoldersLoad() throws {
        let directory = try folder(configJSON(without: ["profileFolders"]))
        let local = directory.file("profiles.d")
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repository.profiles + "/generic-csv-lines.json", toPath: local + "/generic-csv-lines.json")
        let config = try GatewayConfig.load(file: directory.file("gw.json"), defaults: ConfigDefaults(profileFolders: [directory.file("shipped"), local]))
        let checked = GatewayPreflight.check(config, environment: { _ in nil })
        #expect(checked.problems.isEmpty)
        #expect(checked.library.profiles.keys.sorted() == ["generic-csv-lines"])
    }
}
