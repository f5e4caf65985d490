import Foundation
import SerialBridgeGateway
import Testing

/// A command run to its end: exit status, standard output and standard error.
struct CommandRun: Sendable {
    var status: Int32
    var output: String
    var errors: String

    /// Runs `executable` with `arguments` and exactly `environment` (nothing inherited), off the
    /// cooperative pool.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> CommandRun {
        let run = try await HostTool.run([executable] + arguments, environment: environment, inherit: false)
        return CommandRun(status: run.status, output: run.stdout, errors: run.stderr)
    }
}

@Suite("serialbridge config check")
struct ConfigCheckCommandTests {
    func binary() throws -> String {
        try #require(BuiltProducts.path("serialbridge"), "the serialbridge executable is not built; run `swift build --build-tests` first")
    }

    @Test func aGoodConfigPrintsASummaryAndExitsZero() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("gw.json", configJSON([
            #""buses": [{ "path": "/dev/sb-absent-bus", "devices": [{ "device": "meter-1", "profile": "eastron-sdm120", "unitId": 1 }, { "device": "meter-2", "profile": "eastron-sdm120", "unitId": 2 }] }]"#,
            #""metrics": { "listen": "127.0.0.1:9464" }"#,
        ]))
        try directory.write("token", "secret\n")
        let run = try await CommandRun.run(binary(), ["config", "check", "--config", directory.file("gw.json")])
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        let profileCount = try FileManager.default.contentsOfDirectory(atPath: Repository.profiles).filter { $0.hasSuffix(".json") }.count
        #expect(run.output == """
            config:     \(directory.file("gw.json")): OK
            gateway id: gw-1
            server:     ws://127.0.0.1:9/gateway/v1
            token file: \(directory.file("token"))
            profiles:   \(profileCount) from \(Repository.profiles)
            ports:      1: sensor-1 /dev/sb-absent-sensor (generic-csv-lines) [not present now]
            buses:      1: /dev/sb-absent-bus [not present now]: meter-1 (eastron-sdm120, unit 1), meter-2 (eastron-sdm120, unit 2)
            discovery:  off
            spool:      \(directory.file("state"))/spool, max 1073741824 bytes, when full dropOldest
            metrics:    http://127.0.0.1:9464/metrics
            logging:    info, auto

            """)
    }

    @Test func aBrokenConfigListsEveryProblemAndExitsTwo() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("gw.json", configJSON([#""logFormat": "xml""#, #""typo": 1"#]))
        let file = directory.file("gw.json")
        let run = try await CommandRun.run(binary(), ["config", "check", "--config", file], environment: ["SERIALBRIDGE_METRICS_LISTEN": "nowhere"])
        #expect(run.status == 2)
        #expect(run.output.split(separator: "\n") == [
            #"env: SERIALBRIDGE_METRICS_LISTEN: must be "HOST:PORT" such as "127.0.0.1:9464" ("[::1]:9464" for IPv6, port 0 to 65535), or "off", not "nowhere""#,
            #"\#(file): $.logFormat: must be one of "auto", "text", "journald", "json", not "xml""#,
            "\(file): $.typo: unknown key",
        ])
        #expect(run.errors == "3 problems; the gateway would not start\n")
    }

    @Test func whatRunWouldRefuseAtStartIsAProblemToo() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("gw.json", configJSON([#""ports": [{ "device": "a", "path": "/dev/x1", "profile": "nope" }]"#], without: ["ports"]))
        let file = directory.file("gw.json")
        let run = try await CommandRun.run(binary(), ["config", "check", "--config", file], environment: ["SERIALBRIDGE_TOKEN_FILE": directory.file("absent")])
        #expect(run.status == 2)
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines == ["env: SERIALBRIDGE_TOKEN_FILE: cannot read token file \(directory.file("absent")): No such file or directory"],
                "profiles are checked against bindings only once the rest is sound")
        try directory.write("absent", "secret")
        let second = try await CommandRun.run(binary(), ["config", "check", "--config", file], environment: ["SERIALBRIDGE_TOKEN_FILE": directory.file("absent")])
        #expect(second.status == 2)
        #expect(second.output.hasPrefix(#"\#(file): $.ports[0].profile: device "a": no profile named "nope" (loaded: "#), "\(second.output)")
    }

    @Test func aMissingConfigFileIsAProblem() async throws {
        let directory = try TemporaryDirectory()
        let run = try await CommandRun.run(binary(), ["config", "check", "--config", directory.file("none.json")])
        #expect(run.status == 2)
        #expect(run.output == "\(directory.file("none.json")): $: cannot read file: No such file or directory\n")
    }

    @Test func theEnvironmentShowsInTheSummary() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("gw.json", configJSON(without: ["ports"]))
        try directory.write("token", "secret\n")
        let run = try await CommandRun.run(
            binary(), ["config", "check", "--config", directory.file("gw.json")],
            environment: ["SERIALBRIDGE_GATEWAY_ID": "gw-env", "SERIALBRIDGE_METRICS_LISTEN": "off", "SERIALBRIDGE_LOG_FORMAT": "json"]
        )
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("gateway id:  gw-env\n"))
        #expect(run.output.contains("metrics:     off\n"))
        #expect(run.output.contains("logging:     info, json\n"))
        #expect(run.output.contains("environment: overrides from SERIALBRIDGE_GATEWAY_ID, SERIALBRIDGE_METRICS_LISTEN, SERIALBRIDGE_LOG_FORMAT\n"))
    }

    /// The shipped example, with the machine-specific parts (token, profiles, state) from the
    /// environment as the systemd unit sets them.
    @Test func theExampleConfigChecksOut() async throws {
        let example = Repository.root.appendingPathComponent("systemd/gateway.example.json").path
        let directory = try TemporaryDirectory()
        try directory.write("token", "secret\n")
        let environment = [
            "SERIALBRIDGE_TOKEN_FILE": directory.file("token"), "SERIALBRIDGE_PROFILE_FOLDERS": Repository.profiles,
            "SERIALBRIDGE_STATE_DIRECTORY": directory.file("state"),
        ]
        let config = try GatewayConfig.load(file: example, environment: environment, defaults: ConfigDefaults(profileFolders: []))
        #expect(GatewayPreflight.check(config, environment: { _ in nil }).problems.map(\.description) == [])
        #expect(config.gatewayId == "gw-greenhouse-1")
        #expect(config.ports.count + config.buses.reduce(0) { $0 + $1.devices.count } == 3)
        #expect(config.metricsListen == .default)
        let run = try await CommandRun.run(binary(), ["config", "check", "--config", example], environment: environment)
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        #expect(run.output.contains("gateway id:  gw-greenhouse-1\n"))
    }
}
