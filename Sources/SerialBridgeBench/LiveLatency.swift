import Foundation
import Histogram
import SerialBridgeJSON
import Synchronization

/// The server's acknowledgement of each numbered line, observed on its `/live` feed, and the time
/// since the feeder wrote that line.
///
/// The server publishes a reading on `/live` right after the transaction that stored it commits,
/// the moment its ack to the gateway is due (the ack follows once every earlier write of the
/// connection has committed too). So the latency recorded here runs from the line's last byte
/// entering the pty to the bench receiving the `/live` message: read, framing, decoding, spool,
/// uplink batching, the server's ingest and commit, plus one loopback WebSocket hop from the server
/// to the bench (tens of microseconds). Both ends are stamped in the bench process on
/// CLOCK_MONOTONIC.
final class LiveLatency: Sendable {
    /// What the window saw.
    struct Summary: Sendable {
        /// Lines written within the window.
        let written: Int
        /// Of those, lines seen on `/live`.
        let observed: Int
        /// Latency percentiles in microseconds.
        let p50: UInt64
        let p99: UInt64
        let p999: UInt64
        let max: UInt64
    }

    private let gateway: String
    private let log: WriteLog
    private let state = Mutex<(histogram: Histogram<UInt64>, window: ClosedRange<UInt64>?, observed: Int, connected: Bool, socket: Int32?, stopped: Bool)>(
        (Histogram(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three), nil, 0, false, nil, false)
    )

    /// Lines of `gateway`'s devices `dev-N`, as ``LineFeeder`` wrote them into `log`.
    init(gateway: String, log: WriteLog) {
        self.gateway = gateway
        self.log = log
    }

    /// Whether the feed is open.
    var connected: Bool { state.withLock { $0.connected } }

    /// Listens to `ws://127.0.0.1:port/live` on a thread of its own until ``stop()``.
    func start(port: Int) {
        Thread.detachNewThread { [self] in
            guard var socket = LiveSocket(port: port) else {
                FileHandle.standardError.write(Data("e2e: the server refused the /live upgrade\n".utf8))
                return
            }
            let descriptor = socket.descriptor
            let stopped = state.withLock { state -> Bool in
                state.connected = true
                state.socket = descriptor
                return state.stopped
            }
            if stopped { LiveSocket.shutdown(descriptor) }
            while let message = socket.next() { arrived(message, at: monotonicNanoseconds()) }
        }
    }

    /// Closes the feed.
    func stop() {
        let socket = state.withLock { state -> Int32? in
            state.stopped = true
            return state.socket
        }
        if let socket { LiveSocket.shutdown(socket) }
    }

    /// Starts recording the lines written from `start` on.
    func open(at start: UInt64) {
        state.withLock {
            $0.histogram.reset()
            $0.observed = 0
            $0.window = start...UInt64.max
        }
    }

    /// Stops the window at `end`: lines written later are not recorded; those written before still
    /// are when they arrive.
    func close(at end: UInt64) {
        state.withLock { state in state.window = state.window.map { $0.lowerBound...end } }
    }

    /// The window's figures so far.
    func summary() -> Summary {
        let (histogram, window, observed) = state.withLock { ($0.histogram, $0.window, $0.observed) }
        let written = window.map { log.count(within: $0) } ?? 0
        return Summary(
            written: written, observed: observed, p50: histogram.valueAtPercentile(50), p99: histogram.valueAtPercentile(99),
            p999: histogram.valueAtPercentile(99.9), max: histogram.max
        )
    }

    private func arrived(_ bytes: [UInt8], at now: UInt64) {
        guard let message = try? JSONParser.parse(bytes), message["type"] == .string("reading"),
              message["gateway"] == .string(gateway),
              case .string(let device)? = message["device"], device.hasPrefix("dev-"), let index = Int(device.dropFirst(4)),
              let values = message["values"], let line = Self.integer(values["temperature"]),
              let written = log.time(device: index, line: line)
        else { return }
        state.withLock { state in
            guard let window = state.window, window.contains(written) else { return }
            state.observed += 1
            _ = state.histogram.record((now &- written) / 1_000)
        }
    }

    private static func integer(_ node: JSONNode?) -> Int? {
        switch node {
        case .integer(let value)?: Int(value)
        case .float(let value)? where value.isFinite && value >= 0 && value < 1e15: Int(value)
        default: nil
        }
    }
}
