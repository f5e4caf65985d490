import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeSerial

#if canImport(Glibc)
import Glibc
#endif

/// `serialbridge devices capture`: records what a port sends, with arrival times, in the
/// timestamped capture format that `profiles test` replays (docs/PROFILES.md, "Captures").
public enum PortCapture {
    /// When to stop.
    public struct Limits: Sendable {
        /// Stop after this long (nil: until `shouldStop` says so).
        public var duration: Duration?
        /// Stop once this many bytes were captured (nil: no limit).
        public var maxBytes: Int?

        /// Creates limits.
        public init(duration: Duration? = nil, maxBytes: Int? = nil) {
            self.duration = duration
            self.maxBytes = maxBytes
        }
    }

    /// Reads `port` until a limit is reached, the device goes away, or `shouldStop` returns true
    /// (checked at least every 100 ms), passing the file's bytes to `write` as they come: first the
    /// signature, then one record per read. Returns the number of data bytes captured.
    public static func run(
        port: SerialPort, limits: Limits, shouldStop: () -> Bool = { false },
        write: ([UInt8]) throws -> Void
    ) throws -> Int {
        try write(CaptureFormat.magic)
        let start = DeviceSession.monotonicNanoseconds()
        let deadline = limits.duration.map { start + PolledDevice.nanoseconds($0) }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        var record: [UInt8] = []
        while !shouldStop() {
            if let deadline, DeviceSession.monotonicNanoseconds() >= deadline { break }
            if let maxBytes = limits.maxBytes, total >= maxBytes { break }
            var descriptor = pollfd(fd: port.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            if ready < 0 {
                if errno == EINTR { continue }
                throw SerialPortError(.open, path: port.path, errno: errno, detail: "poll")
            }
            if ready == 0 { continue }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(port.fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                if errno == EIO || errno == ENXIO { break }
                throw SerialPortError(.open, path: port.path, errno: errno, detail: "read")
            }
            if count == 0 { break }
            record.removeAll(keepingCapacity: true)
            CaptureFormat.append(.init(time: DeviceSession.monotonicNanoseconds() - start, bytes: Array(buffer[0..<count])), to: &record)
            try write(record)
            total += count
        }
        return total
    }
}
