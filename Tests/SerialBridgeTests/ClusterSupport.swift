import Foundation
import Logging
import SerialBridgeServer
import ServiceLifecycle
import Synchronization
import Testing

/// Cluster options for tests: a fresh database of the shared test cluster (or `url`), short
/// heartbeats and reconnect delays so that tests take seconds.
func testClusterOptions(url: String, instance: String) throws -> ClusterOptions {
    var options = try ClusterOptions(url: url, instanceID: instance)
    options.heartbeat = .milliseconds(250)
    options.expiry = .seconds(5)
    options.reconnectDelay = .milliseconds(50) ... .milliseconds(500)
    return options
}

/// A ``PostgresBus`` run on its own (no HTTP server), with its own feed and registry.
struct RunningBus {
    let bus: PostgresBus
    let feed: LiveFeed
    let registry: GatewayRegistry
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(url: String, instance: String, logger: Logger) throws {
        feed = LiveFeed()
        registry = GatewayRegistry()
        bus = PostgresBus(options: try testClusterOptions(url: url, instance: instance), feed: feed, registry: registry, logger: logger)
        let group = ServiceGroup(services: [bus], gracefulShutdownSignals: [], logger: logger)
        self.group = group
        task = Task { try await group.run() }
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// Runs SQL in the test database with psql; returns its unaligned output. Off the cooperative
/// pool: it waits for a child process.
@discardableResult
func psql(_ url: String, _ sql: String) async throws -> String {
    let (status, text) = try await offThePool { try runCommand(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atc", sql]) }
    guard status == 0 else { throw PsqlError(sql: sql, output: text) }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

struct PsqlError: Error, CustomStringConvertible {
    let sql: String
    let output: String
    var description: String { "psql \(sql): \(output)" }
}

/// What a dashboard's `/live` WebSocket receives, collected by a thread of its own until the server
/// closes it. Spoken by hand (``rawUpgrade``) because a browser's `Origin` must be sent, which
/// WSClient sets to the `ws://` URL itself.
final class LiveWatcher: Sendable {
    private let received = Mutex<[String]>([])
    private let status = Mutex<String?>(nil)

    init(port: Int) {
        Thread.detachNewThread { [self] in
            do {
                let (line, connection) = try rawUpgrade(port: port, path: "/live", headers: ["Origin: http://127.0.0.1:\(port)"])
                status.withLock { $0 = line }
                while let text = connection.readTextFrame() {
                    received.withLock { $0.append(text) }
                }
            } catch {
                status.withLock { $0 = "\(error)" }
            }
        }
    }

    /// The upgrade's status line once answered.
    var upgrade: String? { status.withLock { $0 } }

    /// Every message so far.
    var messages: [String] { received.withLock { $0 } }

    /// Messages containing every one of `parts`.
    func messages(containing parts: String...) -> [String] {
        messages.filter { message in parts.allSatisfy { message.contains($0) } }
    }
}

extension RawConnection {
    /// Reads server frames (unmasked, unfragmented) until a text frame, and returns its text; nil
    /// once the stream ends or a close frame comes.
    func readTextFrame() -> String? {
        while true {
            if received.count >= 2 {
                let opcode = received[0] & 0x0F
                var length = Int(received[1] & 0x7F)
                var header = 2
                if length == 126 {
                    header = 4
                    length = received.count >= 4 ? Int(received[2]) << 8 | Int(received[3]) : -1
                } else if length == 127 {
                    header = 10
                    length = received.count >= 10 ? received[2..<10].reduce(0) { $0 << 8 | Int($1) } : -1
                }
                if length >= 0, received.count >= header + length {
                    let payload = Array(received[header..<(header + length)])
                    consume(header + length)
                    switch opcode {
                    case 0x1: return String(decoding: payload, as: UTF8.self)
                    case 0x8: return nil
                    default: continue
                    }
                }
            }
            guard receiveMore() else { return nil }
        }
    }
}

/// Waits until `/healthz` on `port` says the instance's bus listens.
func waitForBus(port: Int, logs: LogCapture? = nil) async throws {
    try await eventually("the bus on port \(port) listening", logs: logs) {
        (try? await http("GET", port: port, "/healthz"))?.body.contains(#""bus":"listening""#) == true
    }
}
