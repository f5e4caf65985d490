import ArgumentParser
import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeSimulator
import SerialBridgeFuzzing

/// Long seeded fuzz runs over every shipped profile's parser, the profile loader and the message
/// decoder: random bytes, and valid device output with random mutations (flips, insertions,
/// deletions, truncations, duplicated runs). Checks: no crash, no input taking over a second, and
/// resident memory bounded.
struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Seeded mutation fuzzing of parsers, the profile loader and the protocol decoder.")

    @Option(help: "Inputs per target.")
    var iterations = 1_000_000

    @Option(help: "Seed.")
    var seed: UInt64 = 1

    @Option(help: "Profile folder.")
    var profiles = "DeviceProfiles"

    func run() throws {
        let library = try ProfileLibrary.load(paths: [profiles])
        var random = SplitMix64(seed: seed)
        let startRSS = FuzzTargets.residentKilobytes()
        for name in library.profiles.keys.sorted() {
            guard let profile = library.profiles[name] else { continue }
            let result = FuzzTargets.parser(profile, iterations: iterations, random: &random)
            print("parser \(name): \(iterations) inputs, \(result.readings) readings, \(result.rejections) rejections, slowest \(result.slowestMicroseconds) µs")
        }
        let loader = FuzzTargets.loader(library: library, iterations: iterations, random: &random)
        print("profile loader: \(iterations) inputs, \(loader) accepted")
        let decoded = FuzzTargets.messages(iterations: iterations, random: &random)
        print("message decoder: \(iterations) inputs, \(decoded) decoded")
        print("resident memory: \(startRSS) KiB at start, \(FuzzTargets.residentKilobytes()) KiB at end")
    }
}

