import SerialBridgePolling
import SerialBridgeProfiles
import SerialBridgeProtocol

extension DeviceProfile {
    /// The profile's commands as `attached` device events describe them to the server, by name.
    var commandDescriptions: [CommandDescription] {
        commands.keys.sorted().compactMap { name in commands[name].map(CommandDescription.init) }
    }
}

extension CommandDescription {
    /// What the server needs of `spec` to offer it: its name and arguments, not its bytes.
    init(_ spec: CommandSpec) {
        self.init(name: spec.name, arguments: spec.arguments.map { argument in
            // Unbounded sides are read as ±infinity; the wire leaves them out.
            let low = argument.range?.lowerBound
            let high = argument.range?.upperBound
            return Argument(
                name: argument.name, kind: argument.kind == .integer ? .integer : .number,
                min: low.flatMap { $0.isFinite ? $0 : nil }, max: high.flatMap { $0.isFinite ? $0 : nil }
            )
        })
    }
}
