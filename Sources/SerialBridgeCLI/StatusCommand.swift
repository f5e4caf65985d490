import ArgumentParser
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeProtocol

/// `serialbridge status`: asks the running gateway (its loopback `GET /status`) and prints link
/// health, devices with their counters, and the spool (docs/OPERATIONS.md).
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Ask the running gateway for link health, devices and spool (exit 3 when no gateway answers)."
    )

    @Option(name: .long, help: "Gateway config file: the status comes from its metrics.listen address.")
    var config: String?

    @Option(name: .long, help: "The gateway's metrics endpoint, e.g. http://127.0.0.1:9464 (default: the config's, or that).")
    var url: String?

    @Flag(name: .long, help: "Print the gateway's JSON as it is, for scripts.")
    var json = false

    /// Exit code when no gateway answers (as `systemctl status` and LSB use for "not running").
    static let notRunning: Int32 = 3

    func validate() throws {
        if config != nil && url != nil { throw ValidationError("give --config or --url, not both") }
    }

    func run() throws {
        let endpoint = try Self.endpoint(config: config, url: url)
        let reply: LoopbackHTTP.Reply
        do {
            reply = try LoopbackHTTP.get(host: endpoint.host, port: endpoint.port, path: "/status")
        } catch .notRunning(let why) {
            FileHandleOutput.standardError(
                "no gateway answers at http://\(endpoint)/status (\(why)): is it running? (`systemctl status serialbridge`, or `serialbridge run --config FILE`)\n"
            )
            throw ExitCode(Self.notRunning)
        } catch {
            FileHandleOutput.standardError("http://\(endpoint)/status: \(error)\n")
            throw ExitCode(1)
        }
        guard reply.status == 200 else {
            FileHandleOutput.standardError("http://\(endpoint)/status answered HTTP \(reply.status): not a SerialBridge gateway, or one older than the status endpoint\n")
            throw ExitCode(1)
        }
        let node: JSONNode
        do {
            node = try JSONParser.parse(reply.body)
        } catch {
            FileHandleOutput.standardError("http://\(endpoint)/status: the answer is not JSON: \(error)\n")
            throw ExitCode(1)
        }
        var output = json ? reply.body : Array(StatusText.render(node, now: Timestamp.nowMilliseconds()).utf8)
        FileHandleOutput.write(1, &output)
    }

    /// Where to ask: `--url`, else the config's `metrics.listen`, else the default. A wildcard
    /// listen address is asked on loopback.
    static func endpoint(config: String?, url: String?) throws -> MetricsListen {
        if let url {
            var text = Substring(url)
            if text.hasPrefix("http://") { text = text.dropFirst(7) }
            while text.hasSuffix("/") { text = text.dropLast() }
            guard let listen = MetricsListen(parsing: String(text)) else {
                throw ValidationError("--url must be http://HOST:PORT such as http://127.0.0.1:9464, not \"\(url)\"")
            }
            return listen
        }
        guard let config else { return .default }
        let loaded: GatewayConfig
        do {
            loaded = try GatewayConfig.load(file: config)
        } catch {
            FileHandleOutput.standardError("\(error)\n")
            throw ExitCode(2)
        }
        guard var listen = loaded.metricsListen else {
            FileHandleOutput.standardError("\(config): metrics.listen is off, and the status comes from that endpoint; turn it on (loopback is the default)\n")
            throw ExitCode(2)
        }
        if listen.host == "0.0.0.0" { listen.host = "127.0.0.1" }
        if listen.host == "::" { listen.host = "::1" }
        return listen
    }
}
