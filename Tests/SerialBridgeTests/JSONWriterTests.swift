import SerialBridgeJSON
import SerialBridgeSimulator
import Testing

@Suite("JSON writer")
struct JSONWriterTests {
    static func written(_ value: Double) -> String {
        var writer = JSONWriter()
        writer.float(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func floatsAreWrittenAsDescriptionWritesThem() {
        var generator = SplitMix64(seed: 0x5EED)
        var checked = 0
        func check(_ value: Double) {
            let expected = value.isFinite ? value.description : "null"
            #expect(Self.written(value) == expected, "\(value)")
            checked += 1
        }
        for value in [0.0, -0.0, 1e-4, -1e-4, 9.999999999999999e-5, 1e15, 999_999_999_999_999.0, 1e15 - 0.5, 0.1, 0.2, 0.1 + 0.2, 1.0 / 3.0,
                      -21.5, 100.0, 123_456.789, 5e-324, .greatestFiniteMagnitude, .nan, .infinity, -.infinity] {
            check(value)
        }
        // Short decimals, as sensors send them: the fast path.
        for _ in 0..<100_000 {
            let digits = Double(generator.next() % 10_000_000)
            let scale = [1.0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000][Int(generator.next() % 8)]
            check((generator.next() % 2 == 0 ? 1 : -1) * digits / scale)
        }
        // Any double at all: bit patterns across every magnitude.
        for _ in 0..<100_000 {
            check(Double(bitPattern: generator.next()))
        }
        // Doubles near the fast path's bounds and with 14 to 17 significant digits.
        for _ in 0..<100_000 {
            let exponent = Int(generator.next() % 24) - 6
            let mantissa = 1 + Double(generator.next() % (1 << 52)) / Double(1 << 52)
            check(mantissa * Self.pow10(exponent))
        }
        #expect(checked == 300_020)
    }

    @Test func integersAreWrittenAsDescriptionWritesThem() {
        var generator = SplitMix64(seed: 0x1D)
        var values: [Int64] = [0, 1, -1, 9, 10, 99, 100, -100, 101, 1_000, .max, .min, .max - 1, .min + 1]
        values += (0..<19).map { digits in (0..<digits).reduce(Int64(1)) { product, _ in product * 10 } }
        for _ in 0..<100_000 {
            let value = Int64(bitPattern: generator.next())
            values.append(value >> (generator.next() % 64))
        }
        for value in values {
            var writer = JSONWriter()
            writer.integer(value)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == value.description)
        }
    }

    static func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(exponent) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }
}
