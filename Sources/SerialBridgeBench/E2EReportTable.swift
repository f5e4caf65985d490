import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension E2EReport {
    /// The report of `results`: the machine, gateway-to-baseline ratios and the issue's targets.
    static func make(results: [E2EResult], quick: Bool) -> E2EReport {
        func find(_ phase: String, _ subject: E2ESubject) -> E2EResult? {
            results.first { $0.phase == phase && $0.subject == subject }
        }
        func ratio(_ numerator: Double?, _ denominator: Double?) -> Double? {
            guard let numerator, let denominator, denominator > 0 else { return nil }
            return numerator / denominator
        }
        let flatOut = (find("saturation", .gateway), find("saturation", .baseline))
        let at1k = (find("latency-1k", .gateway), find("latency-1k", .baseline))
        let ratios = Ratios(
            throughput: ratio(flatOut.0?.storedPerSecond, flatOut.1?.storedPerSecond),
            cpuPerReadingFlatOut: ratio(flatOut.1?.cpuMicrosPerReading, flatOut.0?.cpuMicrosPerReading),
            cpuPerReadingAt1k: ratio(at1k.1?.cpuMicrosPerReading, at1k.0?.cpuMicrosPerReading),
            rssAt1k: ratio(at1k.0?.peakRSSMiB, at1k.1?.peakRSSMiB)
        )
        var targets: [Target] = []
        // End to end: flat out (the feeder as fast as the ptys take it, the gateway reading ahead of
        // what reaches the server, both on the same cores) or paced at 105,000/s and kept up with.
        let sustained = find("sustained-105k", .gateway)
        let endToEnd = [flatOut.0, sustained].compactMap { $0 }.max { $0.storedPerSecond < $1.storedPerSecond }
        if let best = endToEnd {
            targets.append(Target(name: "≥100,000 readings/s end to end", met: best.storedPerSecond >= 100_000,
                                  figure: "\(Int(best.storedPerSecond)) stored/s (\(best.phase))"))
        }
        if let gateway = flatOut.0 {
            targets.append(Target(name: "≤1 µs gateway CPU per reading flat out", met: gateway.cpuMicrosPerReading <= 1,
                                  figure: "\(figure(gateway.cpuMicrosPerReading, decimals: 2)) µs"))
        }
        if let times = ratios.cpuPerReadingFlatOut {
            targets.append(Target(name: "gateway CPU per reading ≥20× lower than the baseline's (flat out)", met: times >= 20,
                                  figure: "\(figure(times))×"))
        }
        if let gateway = at1k.0 {
            targets.append(Target(name: "<1 % of a core at 1,000 readings/s", met: gateway.subjectCPUPercent < 1,
                                  figure: "\(figure(gateway.subjectCPUPercent, decimals: 2)) %"))
        }
        return E2EReport(quick: quick, machine: .current(), results: results, ratios: ratios, targets: targets)
    }

    /// The results as a text table, then ratios and targets.
    func table() -> String {
        var lines = [
            "machine: \(machine.cores) cores, \(machine.kernel), load average \(machine.loadAverage.map { figure($0, decimals: 2) }.joined(separator: " "))\(quick ? " (quick run)" : "")",
            "",
            "phase          subject   devices  offered/s   stored/s  subject CPU  µs CPU/reading  peak RSS  server CPU  bench CPU   p50 ms   p99 ms  p99.9 ms  seen",
        ]
        for result in results {
            let offered = result.offeredPerSecond.map { String(Int($0)) } ?? "max"
            var row = result.phase.padding(15) + result.subject.rawValue.padding(9)
            row += Int(result.devices).formatted(8) + offered.reversedPadding(11) + Int(result.storedPerSecond).formatted(11)
            row += (figure(result.subjectCPUPercent) + " %").reversedPadding(13) + figure(result.cpuMicrosPerReading, decimals: 2).reversedPadding(16)
            row += (figure(result.peakRSSMiB) + " MiB").reversedPadding(10) + (figure(result.serverCPUPercent) + " %").reversedPadding(12)
            row += (figure(result.benchCPUPercent) + " %").reversedPadding(11)
            if let latency = result.latency {
                for micros in [latency.p50Us, latency.p99Us, latency.p999Us] {
                    row += figure(Double(micros) / 1_000, decimals: 2).reversedPadding(9)
                }
                row += "  \(latency.observed)/\(latency.written)"
            }
            lines.append(row)
        }
        lines.append("")
        func times(_ value: Double?) -> String { value.map { figure($0) + "×" } ?? "-" }
        lines.append("gateway vs baseline: throughput flat out \(times(ratios.throughput)) (gateway ÷ baseline); CPU per reading \(times(ratios.cpuPerReadingFlatOut)) lower flat out, \(times(ratios.cpuPerReadingAt1k)) lower at 1,000/s (baseline ÷ gateway); peak RSS at 1,000/s \(times(ratios.rssAt1k)) (gateway ÷ baseline)")
        for target in targets {
            lines.append("target \(target.met ? "met   " : "MISSED"): \(target.name): \(target.figure)")
        }
        return lines.joined(separator: "\n")
    }
}

extension E2EReport.Machine {
    /// This machine: cores online, kernel release, load averages.
    static func current() -> Self {
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        return Self(cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), kernel: "Linux \(release)", loadAverage: load)
    }
}
