import SerialBridgeProfiles
import SerialBridgeSerial

/// Runs a simulated device on a fresh pseudo-terminal until cancelled.
public struct SimulatorRunner: Sendable {
    /// The pseudo-terminal the device writes to.
    public let terminal: PseudoTerminal
    /// Outputs per second.
    public let rate: Double
    private let profile: DeviceProfile
    private let seed: UInt64

    /// Creates the pseudo-terminal and, when `link` is given, a symlink to its tty at that path.
    public init(profile: DeviceProfile, rate: Double, link: String?, seed: UInt64 = 0x5EED) throws {
        _ = try DeviceSimulator(profile: profile, seed: seed)
        self.terminal = try PseudoTerminal()
        if let link { try terminal.link(at: link) }
        self.profile = profile
        self.rate = rate
        self.seed = seed
    }

    /// Writes outputs at ``rate`` until cancelled; returns how many were written. Paced against a
    /// schedule rather than by sleeping a fixed interval, so the average rate holds.
    public func run(limit: Int? = nil) async throws -> Int {
        // The initializer already proved the profile can be simulated.
        var simulator = try DeviceSimulator(profile: profile, seed: seed)
        let clock = ContinuousClock()
        let interval = Duration.nanoseconds(Int64(1e9 / max(rate, 0.001)))
        var deadline = clock.now
        var count = 0
        while !Task.isCancelled, limit.map({ count < $0 }) ?? true {
            try terminal.write(simulator.nextOutput())
            count += 1
            deadline = deadline.advanced(by: interval)
            if deadline > clock.now {
                try? await clock.sleep(until: deadline)
            } else if count % 1000 == 0 {
                await Task.yield()
            }
        }
        return count
    }
}
