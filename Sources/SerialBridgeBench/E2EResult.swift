/// The figures of one phase of the end-to-end benchmark for one subject.
struct E2EResult: Sendable, Encodable {
    /// Latency from a line's write into the pty to the server's acknowledgement of its reading.
    struct Latency: Sendable, Encodable {
        /// Lines written within the window, and how many of them were seen acknowledged.
        let written: Int
        let observed: Int
        let p50Us: UInt64
        let p99Us: UInt64
        let p999Us: UInt64
        let maxUs: UInt64
    }

    let phase: String
    let subject: E2ESubject
    let devices: Int
    /// Lines/s the feeder was asked for (nil: flat out).
    let offeredPerSecond: Double?
    /// Readings stored by the server per second over the window.
    let storedPerSecond: Double
    /// Readings the subject made per second (the gateway's device counters; the baseline sends
    /// each reading at once, so its stored rate stands for it).
    let producedPerSecond: Double
    /// CPU of the subject, the server and the bench (feeder and `/live` listener) over the window,
    /// in percent of one core.
    let subjectCPUPercent: Double
    let serverCPUPercent: Double
    let benchCPUPercent: Double
    /// The subject's CPU time per reading it made, in microseconds.
    let cpuMicrosPerReading: Double
    /// The subject's resident memory, peak of samples every 250 ms over the window.
    let peakRSSMiB: Double
    let windowSeconds: Double
    let latency: Latency?

    init(
        phase: String, subject: E2ESubject, devices: Int, offeredPerSecond: Double?, start: Sample, finish: Sample, peakRSSKiB: Int,
        latency: Latency?
    ) {
        self.phase = phase
        self.subject = subject
        self.devices = devices
        self.offeredPerSecond = offeredPerSecond
        let wall = Double(finish.instant - start.instant) / 1e9
        windowSeconds = wall
        let stored = Double((finish.stored ?? 0) - (start.stored ?? 0))
        storedPerSecond = stored / wall
        let produced = start.produced.flatMap { first in finish.produced.map { Double($0 - first) } } ?? stored
        producedPerSecond = produced / wall
        func percent(_ from: UInt64, _ to: UInt64) -> Double { Double(to &- from) / 1e9 / wall * 100 }
        subjectCPUPercent = percent(start.subjectCPU, finish.subjectCPU)
        serverCPUPercent = percent(start.serverCPU, finish.serverCPU)
        benchCPUPercent = percent(start.benchCPU, finish.benchCPU)
        cpuMicrosPerReading = produced > 0 ? Double(finish.subjectCPU &- start.subjectCPU) / 1e3 / produced : 0
        peakRSSMiB = Double(peakRSSKiB) / 1024
        self.latency = latency
    }
}

/// A whole run: the machine, every phase's results, the ratios and targets.
struct E2EReport: Sendable, Encodable {
    struct Machine: Sendable, Encodable {
        let cores: Int
        let kernel: String
        let loadAverage: [Double]
    }

    struct Ratios: Sendable, Encodable {
        /// Gateway ÷ baseline readings stored per second, flat out.
        let throughput: Double?
        /// Baseline ÷ gateway CPU per reading, flat out and at 1,000 readings/s.
        let cpuPerReadingFlatOut: Double?
        let cpuPerReadingAt1k: Double?
        /// Gateway ÷ baseline peak RSS at 1,000 readings/s.
        let rssAt1k: Double?
    }

    struct Target: Sendable, Encodable {
        let name: String
        let met: Bool
        let figure: String
    }

    let quick: Bool
    let machine: Machine
    let results: [E2EResult]
    let ratios: Ratios
    let targets: [Target]
}
