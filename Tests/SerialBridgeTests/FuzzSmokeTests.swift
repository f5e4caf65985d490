import SerialBridgeFuzzing
import SerialBridgeProfiles
import SerialBridgeSimulator
import Testing

/// The seeded smoke pass of the fuzzers: about 10,000 inputs per target on every run of the suite.
/// Long runs are `serialbridge-bench fuzz` (docs/BENCHMARKS.md).
@Suite("Fuzz smoke pass")
struct FuzzSmokeTests {
    static let library: ProfileLibrary? = try? ProfileLibrary.load(paths: [Repository.profiles])

    @Test(arguments: (library?.profiles.keys.sorted() ?? []))
    func everyShippedProfileSurvivesMutatedAndRandomInput(name: String) throws {
        let profile = try #require(Self.library?.profiles[name])
        var random = SerialBridgeSimulator.SplitMix64(seed: 0xF022)
        let result = FuzzTargets.parser(profile, iterations: 10_000, random: &random)
        #expect(result.readings > 0, "mutated device output should still yield some readings")
        #expect(result.rejections > 0, "garbage should be rejected somewhere")
    }

    @Test func theProfileLoaderSurvivesMutatedProfiles() throws {
        let library = try #require(Self.library)
        var random = SerialBridgeSimulator.SplitMix64(seed: 0xF023)
        _ = FuzzTargets.loader(library: library, iterations: 10_000, random: &random)
    }

    @Test func theMessageDecoderSurvivesMutatedMessages() {
        var random = SerialBridgeSimulator.SplitMix64(seed: 0xF024)
        #expect(FuzzTargets.messages(iterations: 10_000, random: &random) > 0)
    }
}
