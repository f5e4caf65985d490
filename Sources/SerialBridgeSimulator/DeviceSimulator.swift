import SerialBridgeParsing
import SerialBridgePolling
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
        case text(index: Int)
        case checksumText
        case binary(index: Int, format: SimulationSpec.BinaryFormat)
        case checksum(ChecksumAlgorithm, from: Int, endianness: Endianness)
    }

    private let pieces: [Piece]
    private let answers: [UInt8]?
    private let registers: [ModbusRegister]
    private let valueNames: [String]
    /// Modbus unit ids this simulator answers for.
    public let units: Set<UInt8>
    private var requestBuffer: [UInt8] = []
    private let textChecksum: SimulationSpec.TextChecksum?
    private let generators: [SimulationSpec.Generator]
    private var current: [Double]
    private var random: SplitMix64

    /// Prepares a simulator for `profile`.
    /// - Throws: ``Unsupported`` when the profile has no `simulate` section.
    /// `units` are the Modbus unit ids answered (default: the profile's).
    public init(profile: DeviceProfile, seed: UInt64 = 0x5EED, units: Set<UInt8> = []) throws(Unsupported) {
        guard let spec = profile.simulate else { throw Unsupported(profile: profile.name) }
        var names: [String] = []
        func index(of name: String) -> Int {
            if let existing = names.firstIndex(of: name) { return existing }
            names.append(name)
            return names.count - 1
        }
        var pieces: [Piece] = []
        switch spec.output {
        case .template(let template, let checksum):
            textChecksum = checksum
            for token in SimulationTemplate.tokens(template) {
                switch token {
                case .literal(let text): pieces.append(.literal(Array(text.utf8)))
                case .placeholder(let name):
                    pieces.append(name == "checksum" && checksum != nil ? .checksumText : .text(index: index(of: name)))
                }
            }
        case .frame(let template):
            textChecksum = nil
            for part in template.parts {
                switch part {
                case .bytes(let bytes): pieces.append(.literal(bytes))
                case .value(let name, let format): pieces.append(.binary(index: index(of: name), format: format))
                case .checksum(let algorithm, let from, let endianness): pieces.append(.checksum(algorithm, from: from, endianness: endianness))
                }
            }
        case .modbus:
            textChecksum = nil
            for register in profile.modbus?.plan.registers ?? [] where spec.values[register.field.name] != nil {
                _ = index(of: register.field.name)
            }
        }
        self.answers = spec.answers
        self.registers = profile.modbus?.plan.registers ?? []
        self.units = units.isEmpty ? [UInt8(clamping: profile.modbus?.unitId ?? 1)] : units
        self.valueNames = names
        self.pieces = pieces
        // The loader guarantees a generator for every placeholder and value part.
        self.generators = names.map { spec.values[$0] ?? .init(min: 0, max: 0, decimals: 0) }
        self.current = generators.map { ($0.min + $0.max) / 2 }
        self.random = SplitMix64(seed: seed)
    }

    /// True when the device speaks only when asked (polled and Modbus devices).
    public var answersRequests: Bool { answers != nil || !registers.isEmpty }

    private mutating func step() {
        for index in current.indices {
            let generator = generators[index]
            let span = generator.max - generator.min
            let step = span * 0.02 * (random.nextUnitInterval() * 2 - 1)
            current[index] = min(generator.max, max(generator.min, current[index] + step))
        }
    }

    /// What the device answers to the bytes it just received (empty when nothing is due yet).
    /// Bytes that make no request yet are kept for the next call.
    public mutating func respond(to bytes: some Sequence<UInt8>) -> [UInt8] {
        requestBuffer.append(contentsOf: bytes)
        if requestBuffer.count > 4096 { requestBuffer.removeFirst(requestBuffer.count - 4096) }
        if !registers.isEmpty { return respondModbus() }
        guard let answers, let found = Self.firstRange(of: answers, in: requestBuffer, from: 0) else { return [] }
        requestBuffer.removeSubrange(0..<found.upperBound)
        return nextOutput()
    }

    private mutating func respondModbus() -> [UInt8] {
        var output: [UInt8] = []
        while let (length, request) = ModbusRequestScanner.next(in: requestBuffer) {
            requestBuffer.removeFirst(length)
            guard let request, units.contains(request.unit) else { continue }
            step()
            output += answer(request)
        }
        return output
    }

    private func answer(_ request: ModbusRequestScanner.Request) -> [UInt8] {
        switch request.function {
        case 3, 4:
            let table: ModbusRegister.Table = request.function == 3 ? .holding : .input
            var words = [UInt16](repeating: 0, count: Int(request.count))
            for register in registers where register.table == table {
                guard let index = valueNames.firstIndex(of: register.field.name) else { continue }
                let encoded = register.encode(register.unscaled(current[index]))
                for (offset, word) in encoded.enumerated() {
                    let position = register.address + offset - Int(request.address)
                    if position >= 0, position < words.count { words[position] = word }
                }
            }
            var frame: [UInt8] = [request.unit, request.function, UInt8(words.count * 2)]
            for word in words { frame += [UInt8(word >> 8), UInt8(word & 0xFF)] }
            return ModbusRTU.withCRC(frame)
        case 6, 16:
            return ModbusRTU.withCRC([request.unit, request.function, UInt8(request.address >> 8), UInt8(request.address & 0xFF), UInt8(request.count >> 8), UInt8(request.count & 0xFF)])
        default:
            return ModbusRTU.withCRC([request.unit, request.function | 0x80, 1])
        }
    }

    /// The next output of the device, e.g. `21.4,40.9\r\n` or a binary frame.
    public mutating func nextOutput() -> [UInt8] {
        step()
        var output: [UInt8] = []
        output.reserveCapacity(64)
        var checksumAt: Int?
        for piece in pieces {
            switch piece {
            case .literal(let bytes):
                output.append(contentsOf: bytes)
            case .text(let index):
                output.append(contentsOf: Self.format(current[index], decimals: generators[index].decimals).utf8)
            case .checksumText:
                checksumAt = output.count
            case .binary(let index, let format):
                format.encode(current[index], into: &output)
            case .checksum(let algorithm, let from, let endianness):
                let value = algorithm.compute(Array(output[min(from, output.count)...]))
                for byteIndex in 0..<algorithm.width {
                    let shift = 8 * (endianness == .big ? algorithm.width - 1 - byteIndex : byteIndex)
                    output.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
                }
            }
        }
        if let checksumAt, let textChecksum {
            output.insert(contentsOf: Self.textChecksum(textChecksum, over: output), at: checksumAt)
        }
        return output
    }

    /// Uppercase hex of the checksum over the bytes between `after` and `before`.
    static func textChecksum(_ spec: SimulationSpec.TextChecksum, over output: [UInt8]) -> [UInt8] {
        let after = Array(spec.after.utf8)
        let before = Array(spec.before.utf8)
        let start = (firstRange(of: after, in: output, from: 0)?.upperBound) ?? 0
        let end = firstRange(of: before, in: output, from: start)?.lowerBound ?? output.count
        let value = spec.algorithm.compute(Array(output[start..<end]))
        let text = String(value, radix: 16, uppercase: true)
        let digits = spec.algorithm.width * 2
        return Array((String(repeating: "0", count: max(0, digits - text.count)) + text).utf8)
    }

    static func firstRange(of needle: [UInt8], in haystack: [UInt8], from: Int) -> Range<Int>? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = from
        while index + needle.count <= haystack.count {
            if haystack[index..<index + needle.count].elementsEqual(needle) { return index..<index + needle.count }
            index += 1
        }
        return nil
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
