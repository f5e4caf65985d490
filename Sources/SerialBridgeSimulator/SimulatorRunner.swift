import NIOCore
import NIOPosix
import SerialBridgeProfiles
import SerialBridgeSerial

#if canImport(Glibc)
import Glibc
#endif

/// Runs a simulated device on a fresh pseudo-terminal until cancelled.
public struct SimulatorRunner: Sendable {
    /// The pseudo-terminal the device writes to.
    public let terminal: PseudoTerminal
    /// Outputs per second.
    public let rate: Double
    private let profile: DeviceProfile
    private let seed: UInt64
    private let units: Set<UInt8>

    /// Creates the pseudo-terminal and, when `link` is given, a symlink to its tty at that path.
    /// A Modbus device answers for `units` (default: the profile's unit id).
    public init(profile: DeviceProfile, rate: Double, link: String?, seed: UInt64 = 0x5EED, units: Set<UInt8> = []) throws {
        _ = try DeviceSimulator(profile: profile, seed: seed, units: units)
        self.terminal = try PseudoTerminal()
        if let link { try terminal.link(at: link) }
        self.profile = profile
        self.rate = rate
        self.seed = seed
        self.units = units
    }

    /// Whether the device answers requests instead of talking on its own.
    public var answersRequests: Bool {
        (try? DeviceSimulator(profile: profile, seed: seed, units: units))?.answersRequests ?? false
    }

    /// Plays the device until cancelled: writes outputs at ``rate``, or, for a polled device, answers
    /// every request. Returns how many outputs (or answers) were written.
    public func run(limit: Int? = nil) async throws -> Int {
        // The initializer already proved the profile can be simulated.
        var simulator = try DeviceSimulator(profile: profile, seed: seed, units: units)
        if simulator.answersRequests { return try await answer(with: simulator, limit: limit) }
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

    /// Reads requests from the master side and writes each answer back.
    private func answer(with simulator: DeviceSimulator, limit: Int?) async throws -> Int {
        var simulator = simulator
        let channel = try await terminal.masterChannel()
        var count = 0
        try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                for try await buffer in inbound {
                    let answer = simulator.respond(to: buffer.readableBytesView)
                    guard !answer.isEmpty else { continue }
                    try await outbound.write(ByteBuffer(bytes: answer))
                    count += 1
                    if let limit, count >= limit { return }
                }
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
        return count
    }
}
