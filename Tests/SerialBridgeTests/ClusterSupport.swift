import Foundation
import HTTPTypes
import Logging
import SerialBridgeServer
import ServiceLifecycle
import Synchronization
import Testing
import WSClient

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

/// Runs SQL in the test database with psql; returns its unaligned output.
@discardableResult
func psql(_ url: String, _ sql: String) throws -> String {
    let (status, text) = try runCommand(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atc", sql])
    guard status == 0 else { throw PsqlError(sql: sql, output: text) }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

struct PsqlError: Error, CustomStringConvertible {
    let sql: String
    let output: String
    var description: String { "psql \(sql): \(output)" }
}

/// What a dashboard's `/live` WebSocket receives, collected until ``stop()``.
final class LiveWatcher: Sendable {
    private let received = Mutex<[String]>([])
    private let task = Mutex<Task<Void, any Error>?>(nil)

    init(port: Int, logger: Logger) {
        task.withLock {
            $0 = Task { [self] in
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/live", configuration: .init(maxFrameSize: 1 << 20), logger: logger) { inbound, _, _ in
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        if case .text(let text) = message { self.received.withLock { $0.append(text) } }
                    }
                }
            }
        }
    }

    /// Every message so far.
    var messages: [String] { received.withLock { $0 } }

    /// Messages containing every one of `parts`.
    func messages(containing parts: String...) -> [String] {
        messages.filter { message in parts.allSatisfy { message.contains($0) } }
    }

    /// Closes the WebSocket.
    func stop() {
        task.withLock { $0?.cancel() }
    }
}

/// Waits until `/healthz` on `port` says the instance's bus listens.
func waitForBus(port: Int, logs: LogCapture? = nil) async throws {
    try await eventually("the bus on port \(port) listening", logs: logs) {
        (try? await http("GET", port: port, "/healthz"))?.body.contains(#""bus":"listening""#) == true
    }
}
