import Foundation
import SerialBridgeProfiles
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Numbered CSV lines written to many simulated devices (ptys) by one thread, for the end-to-end
/// benchmark: line N of a device is `N,C\r\n` with C = N mod 9973 (as ``CountingDevice`` writes,
/// so the `generic-csv-lines` profile reads N as `temperature`), at a total rate split evenly over
/// the devices, or as fast as the readers take them.
///
/// One thread for all devices rather than ``CountingDevice``'s thread per device: with 256 devices
/// the feeder's own cost must stay small and steady, and a paced run records when each line was
/// written (``WriteLog``) for the latency from the serial write to the server.
final class LineFeeder: Sendable {
    /// How fast lines are written.
    enum Pace: Sendable {
        /// `total` lines/s over all devices, due lines written every millisecond.
        case paced(total: Double)
        /// As fast as the readers drain the ptys (each pty holds a few KiB; a full one is skipped
        /// until it takes bytes again).
        case flatOut
    }

    /// The device ids (`dev-0` …) in the order of their ptys.
    let devices: [String]
    /// When each line was written (paced runs only).
    let log: WriteLog
    private let terminals: [FaultTerminal]
    private let pace: Pace
    private let state = Mutex<(stop: Bool, finished: Bool, written: Int)>((false, false, 0))

    /// Creates `count` ptys linked at `folder/dev-N`; they are closed at the workspace's cleanup.
    init(workspace: FaultWorkspace, count: Int, pace: Pace) throws {
        let profile = try ProfileLoader.load(file: workspace.binaries.profiles + "/generic-csv-lines.json")
        let folder = workspace.file("dev")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        devices = (0..<count).map { "dev-\($0)" }
        terminals = try devices.map { try FaultTerminal(link: folder + "/" + $0, profile: profile) }
        log = WriteLog(devices: count)
        self.pace = pace
        let terminals = terminals
        workspace.onCleanup { [self] in
            state.withLock { $0.stop = true }
            for _ in 0..<2_000 where !state.withLock({ $0.finished }) { usleep(1_000) }
            for terminal in terminals { terminal.close() }
        }
    }

    /// The ptys' symlinks, by device.
    var links: [String] { terminals.map(\.link) }

    /// The gateway config's port bindings.
    var ports: [FaultGateway.Port] {
        zip(devices, terminals).map { FaultGateway.Port(device: $0, path: $1.link, profile: "generic-csv-lines") }
    }

    /// Complete lines written so far, all devices together.
    var written: Int { state.withLock { $0.written } }

    func start() {
        Thread.detachNewThread { [self] in
            defer { state.withLock { $0.finished = true } }
            switch pace {
            case .paced(let total): writePaced(perDevice: total / Double(max(1, terminals.count)))
            case .flatOut: writeFlatOut()
            }
        }
    }

    /// Stops writing and waits for the thread to end; returns the lines written.
    func stop() async -> Int {
        state.withLock { $0.stop = true }
        while !state.withLock({ $0.finished }) { try? await Task.sleep(for: .milliseconds(5)) }
        return written
    }

    private var stopped: Bool { state.withLock { $0.stop } }

    private func writePaced(perDevice rate: Double) {
        let start = monotonicNanoseconds()
        var next = [Int](repeating: 1, count: terminals.count)
        var burst: [UInt8] = []
        while !stopped {
            let elapsed = Double(monotonicNanoseconds() - start) / 1e9
            let due = Int(elapsed * rate) + 1
            var lines = 0
            for index in terminals.indices where next[index] < due {
                burst.removeAll(keepingCapacity: true)
                for number in next[index]..<due { Self.appendLine(number, to: &burst) }
                let sent = burst.withUnsafeBytes { terminals[index].write($0, stopped: { self.stopped }) }
                guard sent == burst.count else { return }
                // The line is in the pty, readable by the gateway, from now on.
                log.record(device: index, lines: next[index]..<due, at: monotonicNanoseconds())
                lines += due - next[index]
                next[index] = due
            }
            if lines > 0 { state.withLock { $0.written += lines } }
            usleep(1_000)
        }
    }

    private func writeFlatOut() {
        var next = [Int](repeating: 1, count: terminals.count)
        var pending = [[UInt8]](repeating: [], count: terminals.count)
        var offset = [Int](repeating: 0, count: terminals.count)
        while !stopped {
            var progressed = false
            var lines = 0
            for index in terminals.indices {
                if offset[index] == pending[index].count {
                    // About 4 KiB of lines: what a pty takes in one go.
                    pending[index].removeAll(keepingCapacity: true)
                    while pending[index].count < 4_000 {
                        Self.appendLine(next[index], to: &pending[index])
                        next[index] += 1
                    }
                    offset[index] = 0
                }
                let sent = pending[index].withUnsafeBytes { all in
                    terminals[index].write(UnsafeRawBufferPointer(rebasing: all[offset[index]...]), stopped: { true })
                }
                guard sent > 0 else { continue }
                progressed = true
                lines += pending[index][offset[index]..<(offset[index] + sent)].reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
                offset[index] += sent
            }
            if lines > 0 { state.withLock { $0.written += lines } }
            // Every pty full: wait until one takes bytes again.
            if !progressed { usleep(200) }
        }
    }

    /// Appends `N,C\r\n` without going through String (the feeder must stay cheap next to the
    /// gateway it feeds).
    static func appendLine(_ number: Int, to bytes: inout [UInt8]) {
        appendDecimal(number, to: &bytes)
        bytes.append(UInt8(ascii: ","))
        appendDecimal(CountingDevice.check(number), to: &bytes)
        bytes.append(13)
        bytes.append(10)
    }

    private static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var remaining = max(0, value)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                count += 1
            } while remaining > 0
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the one clock the feeder stamps writes with and the listener
/// stamps arrivals with (both in the bench process, so the two are comparable).
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// When each numbered line of each device was written (monotonic ns; 0: not written).
final class WriteLog: Sendable {
    private let times: Mutex<[[UInt64]]>

    init(devices: Int) {
        times = Mutex([[UInt64]](repeating: [0], count: devices))
    }

    func record(device: Int, lines: Range<Int>, at time: UInt64) {
        times.withLock { times in
            guard times.indices.contains(device) else { return }
            while times[device].count < lines.upperBound { times[device].append(0) }
            for line in lines { times[device][line] = time }
        }
    }

    /// When line `line` of device `device` was written, if it was.
    func time(device: Int, line: Int) -> UInt64? {
        times.withLock { times in
            guard times.indices.contains(device), times[device].indices.contains(line), times[device][line] != 0 else { return nil }
            return times[device][line]
        }
    }

    /// Lines of all devices written within `window`.
    func count(within window: ClosedRange<UInt64>) -> Int {
        times.withLock { $0.reduce(0) { total, lines in total + lines.count(where: { window.contains($0) }) } }
    }
}
