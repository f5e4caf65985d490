import Foundation
import SerialBridgeProfiles
import SerialBridgeSimulator
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A device that writes garbage as fast as the gateway reads it, until stopped: runs of random
/// bytes (up to 512) between frames of its own profile that each have one byte flipped. Random bytes
/// alone would only exercise a framer's hunt for its sync header (and a framer reports a run of
/// dropped bytes once, at the next frame); the damaged frames make it find sync, take a frame,
/// reject it (checksum, tail, length, decode) and lose sync again, over and over.
final class GarbageDevice: Sendable {
    /// The device id in the gateway's config.
    let device: String
    private let terminal: FaultTerminal
    private let pool: [UInt8]
    private let state = Mutex<(stop: Bool, bytes: Int, finished: Bool)>((false, 0, false))

    init(device: String, link: String, profile: DeviceProfile, seed: UInt64) throws {
        self.device = device
        terminal = try FaultTerminal(link: link, profile: profile)
        pool = try Self.garbage(profile: profile, seed: seed)
    }

    /// The symlink to its tty.
    var link: String { terminal.link }

    /// Bytes written so far.
    var bytes: Int { state.withLock { $0.bytes } }

    func start() {
        Thread.detachNewThread { [self] in writeGarbage() }
    }

    /// Stops the writer (it notices within 50 ms) and removes the device.
    func close() {
        state.withLock { $0.stop = true }
        for _ in 0..<2_000 where !state.withLock({ $0.finished }) { usleep(1_000) }
        terminal.close()
    }

    /// About 1 MiB of random runs and damaged frames, written in a loop (cheap enough that the
    /// writer is not what limits the rate).
    private static func garbage(profile: DeviceProfile, seed: UInt64) throws -> [UInt8] {
        var random = SplitMix64(seed: seed)
        var simulator = try DeviceSimulator(profile: profile, seed: seed)
        var pool: [UInt8] = []
        pool.reserveCapacity(1 << 20 + 4_096)
        while pool.count < 1 << 20 {
            for _ in 0..<Int(random.next() % 513) { pool.append(UInt8(truncatingIfNeeded: random.next())) }
            var frame = simulator.nextOutput()
            guard !frame.isEmpty else { continue }
            frame[Int(random.next() % UInt64(frame.count))] ^= UInt8(1 + random.next() % 255)
            pool += frame
        }
        return pool
    }

    private func writeGarbage() {
        defer { state.withLock { $0.finished = true } }
        var offset = 0
        pool.withUnsafeBytes { all in
            while !state.withLock({ $0.stop }) {
                let end = min(all.count, offset + 4_096)
                let sent = terminal.write(UnsafeRawBufferPointer(rebasing: all[offset..<end]), stopped: { state.withLock { $0.stop } })
                state.withLock { $0.bytes += sent }
                offset = end == all.count ? 0 : end
            }
        }
    }
}
