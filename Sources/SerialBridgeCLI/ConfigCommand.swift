import ArgumentParser
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeLogging

/// `serialbridge config …`: the gateway's config file (docs/CONFIG.md).
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with the gateway's config file (docs/CONFIG.md).",
        subcommands: [Check.self]
    )

    /// Validates the config as `run` would, without opening a device, the spool or the network.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the config (with SERIALBRIDGE_* overrides) and what `run` checks at start; prints FILE: JSON-PATH: message per problem (exit 2), or a summary."
        )

        @Option(name: .long, help: "Gateway config file.")
        var config: String = GatewayConfig.defaultFile

        func run() throws {
            let environment = ProcessEnvironment.current()
            let loaded: GatewayConfig
            do {
                loaded = try GatewayConfig.load(file: config, environment: environment)
            } catch {
                Self.fail(error.errors)
            }
            let checked = GatewayPreflight.check(loaded, environment: { environment[$0] })
            // The environment's log level and format were checked with the file (ConfigOverrides).
            let problems = checked.problems
            if !problems.isEmpty { Self.fail(problems) }
            var output = Array(ConfigSummary.text(loaded, profiles: checked.library).utf8)
            FileHandleOutput.write(1, &output)
        }

        /// Prints every problem, one per line, and exits with status 2 (as `run` would).
        static func fail(_ problems: [ConfigError]) -> Never {
            var output = Array(problems.map(\.description).joined(separator: "\n").utf8)
            output.append(0x0A)
            FileHandleOutput.write(1, &output)
            FileHandleOutput.standardError("\(problems.count) problem\(problems.count == 1 ? "" : "s"); the gateway would not start\n")
            Check.exit(withError: ExitCode(2))
        }
    }
}
