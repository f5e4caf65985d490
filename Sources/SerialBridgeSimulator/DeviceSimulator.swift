import SerialBridgeProfiles

/// Plays a profile's `simulate` section: each call to ``nextOutput()`` returns the bytes the device
/// would send next, with every `{name}` placeholder filled from a bounded random walk.
///
/// Deterministic for a given seed, so tests and benchmarks can replay the same device.
public struct DeviceSimulator: Sendable {
    /// Why a profile cannot be simulated.
    public struct Unsupported: Error, Sendable, CustomStringConvertible {
        /// The profile name.
        public var profile: String
        public var description: String { "profile \"\(profile)\" has no simulate section" }
    }

    private enum Piece: Sendable {
        case literal([UInt8])
        case value(index: Int)
    }

    private let pieces: [Piece]
    private let generators: [SimulationSpec.Generator]
    private var current: [Double]
    private var random: SplitMix64

    /// Prepares a simulator for `profile`.
    /// - Throws: ``Unsupported`` when the profile has no `simulate` section.
    public init(profile: DeviceProfile, seed: UInt64 = 0x5EED) throws(Unsupported) {
        guard let spec = profile.simulate else { throw Unsupported(profile: profile.name) }
        var names: [String] = []
        var pieces: [Piece] = []
        var literal: [UInt8] = []
        var placeholder: String?
        for character in spec.template {
            if character == "{" {
                placeholder = ""
            } else if character == "}", let name = placeholder {
                if !literal.isEmpty { pieces.append(.literal(literal)) }
                literal = []
                let index = names.firstIndex(of: name) ?? { names.append(name); return names.count - 1 }()
                pieces.append(.value(index: index))
                placeholder = nil
            } else if placeholder != nil {
                placeholder?.append(character)
            } else {
                literal.append(contentsOf: String(character).utf8)
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        self.pieces = pieces
        // The loader guarantees a generator for every placeholder.
        self.generators = names.map { spec.values[$0] ?? .init(min: 0, max: 0, decimals: 0) }
        self.current = generators.map { ($0.min + $0.max) / 2 }
        self.random = SplitMix64(seed: seed)
    }

    /// The next output of the device, e.g. `21.4,40.9\r\n`.
    public mutating func nextOutput() -> [UInt8] {
        for index in current.indices {
            let generator = generators[index]
            let span = generator.max - generator.min
            let step = span * 0.02 * (random.nextUnitInterval() * 2 - 1)
            current[index] = min(generator.max, max(generator.min, current[index] + step))
        }
        var output: [UInt8] = []
        output.reserveCapacity(64)
        for piece in pieces {
            switch piece {
            case .literal(let bytes): output.append(contentsOf: bytes)
            case .value(let index): output.append(contentsOf: Self.format(current[index], decimals: generators[index].decimals).utf8)
            }
        }
        return output
    }

    /// Fixed-point formatting without Foundation: `format(21.456, decimals: 1) == "21.5"`.
    public static func format(_ value: Double, decimals: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (value * Double(scale)).rounded()
        guard scaled.magnitude < 9e18 else { return "0" }
        let fixed = Int64(scaled)
        let sign = fixed < 0 ? "-" : ""
        let magnitude = fixed.magnitude
        let whole = magnitude / UInt64(scale)
        guard decimals > 0 else { return sign + String(whole) }
        var fraction = String(magnitude % UInt64(scale))
        while fraction.count < decimals { fraction = "0" + fraction }
        return "\(sign)\(whole).\(fraction)"
    }
}

/// A small, fast, seedable generator (SplitMix64), so simulated devices are reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }
}
