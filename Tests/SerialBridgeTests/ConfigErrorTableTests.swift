import Foundation
import SerialBridgeGateway
import SerialBridgeJSON
import Testing

/// A config file (and environment) that must be refused, with every `FILE: JSON-PATH: message`
/// expected. In the expectations `{F}` stands for the config file and `{D}` for its folder; an
/// expectation ending in `…` matches lines that start with the rest.
struct BrokenConfig: Sendable, CustomTestStringConvertible {
    var name: String
    var json: String
    var environment: [String: String] = [:]
    var expected: [String]
    var testDescription: String { name }
}

/// A valid gateway config with `pairs` spliced in (raw JSON `"key": value` text) and `without`
/// keys left out; `{D}` in values is the config's folder.
func configJSON(_ pairs: [String] = [], without: Set<String> = []) -> String {
    var entries: [(String, String)] = [
        ("gatewayId", #""gw-1""#),
        ("server", #"{ "url": "ws://127.0.0.1:9/gateway/v1", "tokenFile": "token" }"#),
        ("stateDirectory", #""state""#),
        ("profileFolders", "[\"\(Repository.profiles)\"]"),
        ("ports", #"[{ "device": "sensor-1", "path": "/dev/sb-absent-sensor", "profile": "generic-csv-lines" }]"#),
        ("discovery", "false"),
    ]
    entries.removeAll { without.contains($0.0) }
    let body = entries.map { "  \"\($0.0)\": \($0.1)" } + pairs.map { "  " + $0 }
    return "{\n" + body.joined(separator: ",\n") + "\n}\n"
}

@Suite("Broken configs: every mistake as FILE: JSON-PATH: message")
struct ConfigErrorTableTests {
    static let loadErrors: [BrokenConfig] = [
        BrokenConfig(name: "not JSON", json: #"{ "gatewayId": }"#, expected: ["{F}: $: not valid JSON: …"]),
        BrokenConfig(name: "not an object", json: "[]", expected: ["{F}: $: must be an object, not an array", "{F}: $.gatewayId: is required", "{F}: $.server: is required"]),
        BrokenConfig(name: "gateway id missing", json: configJSON(without: ["gatewayId"]), expected: ["{F}: $.gatewayId: is required"]),
        BrokenConfig(name: "gateway id empty", json: configJSON([#""gatewayId": """#], without: ["gatewayId"]), expected: ["{F}: $.gatewayId: must be 1 to 128 characters"]),
        BrokenConfig(name: "gateway id a number", json: configJSON([#""gatewayId": 7"#], without: ["gatewayId"]), expected: ["{F}: $.gatewayId: must be a string, not a number"]),
        BrokenConfig(name: "server missing", json: configJSON(without: ["server"]), expected: ["{F}: $.server: is required"]),
        BrokenConfig(
            name: "server URL not a WebSocket", json: configJSON([#""server": { "url": "http://example.org", "tokenFile": "token" }"#], without: ["server"]),
            expected: [#"{F}: $.server.url: must be a ws:// or wss:// URL with a host, not "http://example.org""#]
        ),
        BrokenConfig(
            name: "token file missing", json: configJSON([#""server": { "url": "ws://127.0.0.1:9/gateway/v1" }"#], without: ["server"]),
            expected: ["{F}: $.server.tokenFile: is required"]
        ),
        BrokenConfig(
            name: "TLS on ws://", json: configJSON([#""server": { "url": "ws://127.0.0.1:9/gateway/v1", "tokenFile": "token", "tls": {} }"#], without: ["server"]),
            expected: ["{F}: $.server.tls: applies only to wss:// URLs"]
        ),
        BrokenConfig(name: "a typo", json: configJSON([#""logLevl": "debug""#]), expected: ["{F}: $.logLevl: unknown key"]),
        BrokenConfig(
            name: "log level unknown", json: configJSON([#""logLevel": "loud""#]),
            expected: [#"{F}: $.logLevel: must be one of "trace", "debug", "info", "notice", "warning", "error", "critical", not "loud""#]
        ),
        BrokenConfig(
            name: "log format unknown", json: configJSON([#""logFormat": "xml""#]),
            expected: [#"{F}: $.logFormat: must be one of "auto", "text", "journald", "json", not "xml""#]
        ),
        BrokenConfig(
            name: "metrics address without a port", json: configJSON([#""metrics": { "listen": "localhost" }"#]),
            expected: [#"{F}: $.metrics.listen: must be "HOST:PORT" such as "127.0.0.1:9464" ("[::1]:9464" for IPv6, port 0 to 65535), or null or false to turn the endpoint off, not "localhost""#]
        ),
        BrokenConfig(name: "profile folder not a string", json: configJSON([#""profileFolders": [3]"#], without: ["profileFolders"]), expected: ["{F}: $.profileFolders[0]: must be a string"]),
        BrokenConfig(
            name: "two ports with one device id",
            json: configJSON([#""ports": [{ "device": "a", "path": "/dev/x1", "profile": "p" }, { "device": "a", "path": "/dev/x2", "profile": "p" }]"#], without: ["ports"]),
            expected: [#"{F}: $.ports[1].device: duplicate device id "a""#]
        ),
        BrokenConfig(
            name: "port without a profile", json: configJSON([#""ports": [{ "device": "a", "path": "/dev/x1" }]"#], without: ["ports"]),
            expected: ["{F}: $.ports[0].profile: is required"]
        ),
        BrokenConfig(
            name: "bus with one unit twice",
            json: configJSON([#""buses": [{ "path": "/dev/x3", "devices": [{ "device": "m1", "profile": "eastron-sdm120", "unitId": 1 }, { "device": "m2", "profile": "eastron-sdm120", "unitId": 1 }] }]"#]),
            expected: ["{F}: $.buses[0].devices[1].unitId: unit 1 is already on this bus"]
        ),
        BrokenConfig(
            name: "bus on a port's path",
            json: configJSON([#""buses": [{ "path": "/dev/sb-absent-sensor", "devices": [{ "device": "m1", "profile": "eastron-sdm120" }] }]"#]),
            expected: ["{F}: $.buses[0].path: /dev/sb-absent-sensor is already used by another port or bus"]
        ),
        BrokenConfig(name: "bus without devices", json: configJSON([#""buses": [{ "path": "/dev/x3", "devices": [] }]"#]), expected: ["{F}: $.buses[0].devices: must list at least one device"]),
        BrokenConfig(
            name: "spool policy unknown", json: configJSON([#""spool": { "whenFull": "panic" }"#]),
            expected: [#"{F}: $.spool.whenFull: must be one of "dropOldest", "rejectNewest", not "panic""#]
        ),
        BrokenConfig(
            name: "reconnect cap below the first delay", json: configJSON([#""reconnect": { "initialDelayMs": 500, "maxDelayMs": 100 }"#]),
            expected: ["{F}: $.reconnect.maxDelayMs: must not be less than initialDelayMs (500)"]
        ),
        BrokenConfig(
            name: "every mistake at once", json: configJSON([#""gatewayId": 7"#, #""logFormat": 1"#, #""extra": true"#], without: ["gatewayId"]),
            expected: ["{F}: $.gatewayId: must be a string, not a number", "{F}: $.logFormat: must be a string, not a number", "{F}: $.extra: unknown key"]
        ),
        BrokenConfig(
            name: "bad server URL in the environment", json: configJSON(), environment: ["SERIALBRIDGE_SERVER_URL": "http://example.org"],
            expected: [#"env: SERIALBRIDGE_SERVER_URL: must be a ws:// or wss:// URL with a host, not "http://example.org""#]
        ),
        BrokenConfig(
            name: "bad metrics address in the environment", json: configJSON(), environment: ["SERIALBRIDGE_METRICS_LISTEN": "9464"],
            expected: [#"env: SERIALBRIDGE_METRICS_LISTEN: must be "HOST:PORT" such as "127.0.0.1:9464" ("[::1]:9464" for IPv6, port 0 to 65535), or "off", not "9464""#]
        ),
        BrokenConfig(
            name: "bad log settings in the environment", json: configJSON(), environment: ["SERIALBRIDGE_LOG_LEVEL": "loud", "SERIALBRIDGE_LOG_FORMAT": "xml"],
            expected: [
                #"env: SERIALBRIDGE_LOG_LEVEL: must be one of "trace", "debug", "info", "notice", "warning", "error", "critical", not "loud""#,
                #"env: SERIALBRIDGE_LOG_FORMAT: must be one of "auto", "text", "journald", "json", not "xml""#,
            ]
        ),
        BrokenConfig(
            name: "no folder in SERIALBRIDGE_PROFILE_FOLDERS", json: configJSON(), environment: ["SERIALBRIDGE_PROFILE_FOLDERS": "::"],
            expected: [#"env: SERIALBRIDGE_PROFILE_FOLDERS: must name at least one folder or file (separated by ":")"#]
        ),
        BrokenConfig(
            name: "gateway id too long in the environment", json: configJSON(), environment: ["SERIALBRIDGE_GATEWAY_ID": String(repeating: "g", count: 129)],
            expected: ["env: SERIALBRIDGE_GATEWAY_ID: must be 1 to 128 characters"]
        ),
        BrokenConfig(
            name: "environment and file mistakes together", json: configJSON([#""typo": 1"#]), environment: ["SERIALBRIDGE_LOG_FORMAT": "xml"],
            expected: [#"env: SERIALBRIDGE_LOG_FORMAT: must be one of "auto", "text", "journald", "json", not "xml""#, "{F}: $.typo: unknown key"]
        ),
        BrokenConfig(
            name: "read interval beyond a second", json: configJSON([#""readIntervalMs": 5000"#]),
            expected: ["{F}: $.readIntervalMs: must be an integer from 0 to 1000"]
        ),
        BrokenConfig(
            name: "linger negative", json: configJSON([#""uplink": { "lingerMs": -1 }"#]),
            expected: ["{F}: $.uplink.lingerMs: must be an integer from 0 to 1000"]
        ),
        BrokenConfig(
            name: "an unreadable file still reports the environment", json: "", environment: ["SERIALBRIDGE_LOG_LEVEL": "loud"],
            expected: ["{F}: $: not valid JSON: …", #"env: SERIALBRIDGE_LOG_LEVEL: must be one of "trace", "debug", "info", "notice", "warning", "error", "critical", not "loud""#]
        ),
    ]

    static let startErrors: [BrokenConfig] = [
        BrokenConfig(name: "token file absent", json: configJSON(), expected: ["{F}: $.server.tokenFile: cannot read token file {D}/token: No such file or directory"]),
        BrokenConfig(
            name: "token file from the environment absent", json: configJSON(), environment: ["SERIALBRIDGE_TOKEN_FILE": "/nonexistent/sb-token"],
            expected: ["env: SERIALBRIDGE_TOKEN_FILE: cannot read token file /nonexistent/sb-token: No such file or directory"]
        ),
        BrokenConfig(
            name: "profile not loaded",
            json: configJSON([#""ports": [{ "device": "a", "path": "/dev/x1", "profile": "generic-csv-lines" }, { "device": "b", "path": "/dev/x2", "profile": "nope" }]"#], without: ["ports"]),
            expected: [#"{F}: $.ports[1].profile: device "b": no profile named "nope" (loaded: …"#]
        ),
        BrokenConfig(
            name: "configured profile folder absent", json: configJSON([#""profileFolders": ["missing"]"#], without: ["profileFolders", "ports"]),
            expected: ["{F}: $.profileFolders[0]: no such file or folder: {D}/missing"]
        ),
        BrokenConfig(
            name: "profile folder from the environment absent", json: configJSON(without: ["ports"]), environment: ["SERIALBRIDGE_PROFILE_FOLDERS": "/nonexistent/sb-profiles"],
            expected: ["env: SERIALBRIDGE_PROFILE_FOLDERS: no such file or folder: /nonexistent/sb-profiles"]
        ),
        BrokenConfig(
            name: "a streaming device on a bus",
            json: configJSON([#""buses": [{ "path": "/dev/x3", "devices": [{ "device": "m1", "profile": "eastron-sdm120", "unitId": 1 }, { "device": "s1", "profile": "generic-csv-lines" }] }]"#]),
            expected: [
                #"{F}: $.buses[0].devices[1]: bus /dev/x3: device "s1": profile generic-csv-lines is neither polled nor commanded; a device that talks on its own needs a port of its own"#,
                #"{F}: $.buses[0].devices[1]: bus /dev/x3: device "s1": profile generic-csv-lines frames with "line", but eastron-sdm120 with "modbus-rtu"; one line has one framing"#,
                "{F}: $.buses[0].devices[1]: bus /dev/x3: device \"s1\": profile generic-csv-lines opens …",
            ]
        ),
        BrokenConfig(name: "state directory is a file", json: configJSON([#""stateDirectory": "token""#], without: ["stateDirectory"]), expected: ["{F}: $.stateDirectory: {D}/token is not a folder"]),
    ]

    /// Writes the case into a fresh folder; returns the config file and folder.
    func write(_ entry: BrokenConfig, token: Bool) throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory()
        try directory.write("gw.json", entry.json)
        if token { try directory.write("token", "secret\n") }
        return (directory, directory.file("gw.json"))
    }

    func check(_ lines: [String], against entry: BrokenConfig, file: String, folder: String) {
        let expected = entry.expected.map { $0.replacingOccurrences(of: "{F}", with: file).replacingOccurrences(of: "{D}", with: folder) }
        #expect(lines.count == expected.count, "\(entry.name): got\n\(lines.joined(separator: "\n"))")
        for (line, expectation) in zip(lines, expected) {
            if expectation.hasSuffix("…") {
                #expect(line.hasPrefix(String(expectation.dropLast())), "\(entry.name): \(line)")
            } else {
                #expect(line == expectation, "\(entry.name)")
            }
        }
    }

    @Test(arguments: loadErrors)
    func theLoadRefuses(_ entry: BrokenConfig) throws {
        let (directory, file) = try write(entry, token: true)
        do {
            _ = try GatewayConfig.load(file: file, environment: entry.environment, defaults: ConfigDefaults(profileFolders: []))
            Issue.record("\(entry.name): loaded")
        } catch {
            check(error.errors.map(\.description), against: entry, file: file, folder: directory.path)
        }
    }

    @Test(arguments: startErrors)
    func theStartChecksRefuse(_ entry: BrokenConfig) throws {
        let (directory, file) = try write(entry, token: entry.name != "token file absent")
        let config = try GatewayConfig.load(file: file, environment: entry.environment, defaults: ConfigDefaults(profileFolders: []))
        let problems = GatewayPreflight.check(config, environment: { _ in nil }).problems
        check(problems.map(\.description), against: entry, file: file, folder: directory.path)
    }

    @Test func theBaseConfigIsGood() throws {
        let directory = try TemporaryDirectory()
        try directory.write("gw.json", configJSON())
        try directory.write("token", "secret\n")
        let config = try GatewayConfig.load(file: directory.file("gw.json"), defaults: ConfigDefaults(profileFolders: []))
        #expect(GatewayPreflight.check(config, environment: { _ in nil }).problems.isEmpty)
    }
}
