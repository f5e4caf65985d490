import Foundation
import SerialBridgeProfiles
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A CSV device (for the `generic-csv-lines` profile) that numbers its lines: line N is
/// `N,C\r\n` with the check value C = N mod 9973, so the server's rows say exactly which lines
/// arrived, how often and in which order, and a line cut in two by a gateway kill (a tail such as
/// `23,…` of `12323,…`) is recognised by its check value instead of passing for line 23.
///
/// A thread writes the lines at `rate` per second (in bursts of up to 10 ms worth) until stopped
/// or `limit` lines are written; while no gateway reads, the pty fills and the writer waits.
final class CountingDevice: Sendable {
    /// The device id in the gateway's config.
    let device: String
    private let terminal: FaultTerminal
    private let rate: Double
    private let limit: Int?
    private let state = Mutex<(stop: Bool, written: Int, finished: Bool)>((false, 0, false))

    init(device: String, link: String, profile: DeviceProfile, rate: Double, limit: Int? = nil) throws {
        self.device = device
        terminal = try FaultTerminal(link: link, profile: profile)
        self.rate = rate
        self.limit = limit
    }

    /// The check value of line `number`.
    static func check(_ number: Int) -> Int { number % 9973 }

    /// The symlink to its tty.
    var link: String { terminal.link }

    /// Lines written completely so far.
    var written: Int { state.withLock { $0.written } }
    /// Whether the writer has ended (stopped or at its limit).
    var finished: Bool { state.withLock { $0.finished } }

    func start() {
        Thread.detachNewThread { [self] in writeLines() }
    }

    /// Stops writing and waits for the writer to end; returns the number of complete lines written.
    func stop() async -> Int {
        state.withLock { $0.stop = true }
        while !finished { try? await Task.sleep(for: .milliseconds(5)) }
        return written
    }

    /// Stops the writer (if running; it notices within 50 ms) and removes the device.
    func close() {
        state.withLock { $0.stop = true }
        for _ in 0..<2_000 where !finished { usleep(1_000) }
        terminal.close()
    }

    private func writeLines() {
        defer { state.withLock { $0.finished = true } }
        let start = ContinuousClock.now
        var next = 1
        while !state.withLock({ $0.stop }), limit.map({ next <= $0 }) ?? true {
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            var due = Int(seconds * rate) + 1 - next
            if let limit { due = min(due, limit + 1 - next) }
            guard due > 0 else {
                usleep(2_000)
                continue
            }
            let burst = Array((next..<(next + min(due, 2_000))).map { "\($0),\(Self.check($0))\r\n" }.joined().utf8)
            let sent = burst.withUnsafeBytes { terminal.write($0, stopped: { state.withLock { $0.stop } }) }
            // Only complete lines count; a stop while the tty is full may leave a partial one behind.
            let complete = burst[0..<sent].reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            next += complete
            state.withLock { $0.written = next - 1 }
            if sent < burst.count { return }
        }
    }
}
