import SerialBridgeJSON
import SerialBridgeParsing
import SerialBridgeProfiles
import SerialBridgeProtocol

#if canImport(Glibc)
import Glibc
#endif

// The coverage-guided (libFuzzer) entry point; built only by scripts/fuzz.sh with
// `-sanitize=fuzzer,address`, which supplies `main`. SB_FUZZ_TARGET picks what is fuzzed: a
// profile file (its parser), `loader` (the profile loader) or `messages` (the protocol decoder).

/// What this process fuzzes, chosen once from the environment.
enum FuzzTarget: Sendable {
    case parser(ParsingSpec)
    case loader
    case messages

    static let current: FuzzTarget = {
        let name = getenv("SB_FUZZ_TARGET").map { String(cString: $0) } ?? "DeviceProfiles/generic-csv-lines.json"
        switch name {
        case "loader": return .loader
        case "messages": return .messages
        default:
            do {
                return .parser(try ProfileLoader.load(file: name).parsing)
            } catch {
                let message = Array("SB_FUZZ_TARGET: \(error)\n".utf8)
                _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
                exit(2)
            }
        }
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    switch FuzzTarget.current {
    case .parser(let spec):
        var parser = DeviceParser(spec: spec)
        // The first byte splits the input into two reads, so frames spanning reads are covered.
        let split = size > 0 ? Int(input[0]) % (size + 1) : 0
        parser.feed(UnsafeRawBufferPointer(rebasing: input[..<split]), at: 1_000_000, onReading: { _ in })
        parser.feed(UnsafeRawBufferPointer(rebasing: input[split...]), at: 90_000_000, onReading: { _ in })
        parser.flush(at: 5_000_000_000, onReading: { _ in })
    case .loader:
        _ = try? ProfileLoader.load(bytes: Array(input), file: "fuzz.json")
    case .messages:
        _ = try? MessageCodec.decode(Array(input))
    }
    return 0
}

#if SB_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// SwiftPM renames an executable's `main` to `<target>_main`; libFuzzer's driver is started from it.
@_cdecl("SerialBridgeFuzzer_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
/// Without libFuzzer (a plain `swift build`), the target only says how to build it.
@main
enum FuzzerNotBuiltWithLibFuzzer {
    static func main() {
        let message = Array("SerialBridgeFuzzer runs under libFuzzer: use scripts/fuzz.sh (docs/BENCHMARKS.md)\n".utf8)
        _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(2)
    }
}
#endif
