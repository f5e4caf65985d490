import Foundation
import Logging
import SerialBridgeProtocol
@testable import SerialBridgeServer
import Synchronization
import Testing

/// Two buses (instances A and B, no HTTP) on one database of the throwaway PostgreSQL cluster.
@Suite("Cluster bus on PostgreSQL: LISTEN/NOTIFY, reconnect, large messages, presence",
       .serialized, .enabled(if: postgresAvailable(), Comment(rawValue: PostgresTestCluster.missingMessage)))
struct PostgresBusTests {
    /// Collects what a feed's subscribers receive.
    final class Collected: Sendable {
        let task: Task<Void, Never>
        private let box: Box

        init(_ feed: LiveFeed) {
            let subscription = feed.subscribe()
            let box = Box()
            task = Task { for await message in subscription.updates { box.append(message) } }
            self.box = box
        }

        deinit { task.cancel() }

        var all: [String] { box.all }
        func containing(_ text: String) -> [String] { all.filter { $0.contains(text) } }

        final class Box: Sendable {
            private let items = Mutex<[String]>([])
            func append(_ item: String) { items.withLock { $0.append(item) } }
            var all: [String] { items.withLock { $0 } }
        }
    }

    static func pair(_ logs: LogCapture) async throws -> (url: String, a: RunningBus, b: RunningBus) {
        let url = try await PostgresTestCluster.newDatabase()
        let a = try RunningBus(url: url, instance: "A", logger: logs.logger("A"))
        let b = try RunningBus(url: url, instance: "B", logger: logs.logger("B"))
        try await eventually("both buses listening", logs: logs) { a.bus.isListening && b.bus.isListening }
        return (url, a, b)
    }

    @Test func anUpdatePublishedOnOneInstanceReachesTheOthersDashboardsOnce() async throws {
        let logs = LogCapture()
        let (_, a, b) = try await Self.pair(logs)
        let onA = Collected(a.feed)
        let onB = Collected(b.feed)
        b.bus.publish(device: "gw-1:co2", #"{"type":"reading","id":"gw-1:co2","n":1}"#)
        b.bus.publish(device: nil, #"{"type":"gateway","gateway":"gw-1","online":true}"#)
        try await eventually("both updates on A", logs: logs) { onA.all.count == 2 }
        #expect(onA.all == [#"{"type":"reading","id":"gw-1:co2","n":1}"#, #"{"type":"gateway","gateway":"gw-1","online":true}"#])
        // B's own dashboards got them once, directly, not again from its own NOTIFY.
        try await eventually("B's own") { onB.all.count == 2 }
        a.bus.publish(device: nil, #"{"type":"marker"}"#)
        try await eventually("the marker back on B") { onB.containing("marker").count == 1 }
        #expect(onB.all.count == 3)
        try await a.stop()
        try await b.stop()
    }

    @Test func anUpdateLargerThanANotifyPayloadTravelsThroughTheTable() async throws {
        let logs = LogCapture()
        let (url, a, b) = try await Self.pair(logs)
        let onA = Collected(a.feed)
        let large = #"{"type":"tap","id":"gw-1:co2","base64":""# + String(repeating: "QUJD", count: 5_000) + #""}"#
        #expect(large.utf8.count > 8_000)
        b.bus.publish(device: "gw-1:co2", #"{"type":"before"}"#)
        b.bus.publish(device: "gw-1:co2", large)
        b.bus.publish(device: "gw-1:co2", #"{"type":"after"}"#)
        try await eventually("three updates on A", logs: logs) { onA.all.count == 3 }
        #expect(onA.all == [#"{"type":"before"}"#, large, #"{"type":"after"}"#])
        #expect(try await psql(url, "SELECT count(*) FROM cluster_messages") == "1")
        try await a.stop()
        try await b.stop()
    }

    @Test func theListenConnectionComesBackAfterTheDatabaseDropsIt() async throws {
        let logs = LogCapture()
        let (url, a, b) = try await Self.pair(logs)
        let onA = Collected(a.feed)
        #expect(a.bus.listenCount == 1)
        // Only this test's database: other tests run instances named A and B in the same cluster.
        let killed = try await psql(url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'serialbridge-listen-A' AND datname = current_database()")
        #expect(killed == "1")
        try await eventually("A listening again", logs: logs) { a.bus.listenCount == 2 && a.bus.isListening }
        #expect(logs.count(containing: "the bus's LISTEN connection failed or was lost") >= 1)
        b.bus.publish(device: nil, #"{"type":"after-reconnect"}"#)
        try await eventually("the update after the reconnect", logs: logs) { onA.containing("after-reconnect").count == 1 }
        // The writing connection of B may be killed too: the next send reconnects it.
        try await psql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'serialbridge-bus-B' AND datname = current_database()")
        try await eventually("an update through B's new writer", logs: logs) {
            b.bus.publish(device: nil, #"{"type":"writer-back"}"#)
            return onA.containing("writer-back").count >= 1
        }
        try await a.stop()
        try await b.stop()
    }

    @Test func gatewaysAreOnlineWhereTheirInstanceLivesAndOfflineOnceItExpires() async throws {
        let logs = LogCapture()
        let (url, a, b) = try await Self.pair(logs)
        let onA = Collected(a.feed)
        await b.bus.gatewayConnected("gw-b", connection: 1, at: 1_000)
        try await eventually("gw-b online at B, seen from A", logs: logs) {
            await a.bus.gateways().contains { $0.gateway == "gw-b" && $0.online && $0.instance == "B" }
        }
        // An instance killed without a word: its row stops being renewed.
        try await psql(url, """
            INSERT INTO cluster_instances (id, heartbeat_at) VALUES ('ghost', now());
            INSERT INTO cluster_gateways VALUES ('gw-ghost', 'ghost', 1, 2000)
            """)
        #expect(await a.bus.gateways().contains { $0.gateway == "gw-ghost" && $0.online && $0.instance == "ghost" })
        try await psql(url, "UPDATE cluster_instances SET heartbeat_at = now() - interval '1 hour' WHERE id = 'ghost'")
        #expect(await a.bus.gateways().contains { $0.gateway == "gw-ghost" } == false)
        // One instance reaps it and tells every dashboard.
        try await eventually("gw-ghost announced offline on A", logs: logs) {
            onA.containing(#""gateway":"gw-ghost","online":false"#).count == 1
        }
        #expect(onA.all.contains { $0.contains("instance ghost stopped answering") })
        #expect(try await psql(url, "SELECT count(*) FROM cluster_gateways WHERE instance = 'ghost'") == "0")
        // A disconnect removes only that connection's row; a graceful stop removes the instance.
        await b.bus.gatewayDisconnected("gw-b", connection: 2, at: 3_000)
        await b.bus.gatewayDisconnected("gw-b", connection: 1, at: 3_000)
        await b.bus.gatewayConnected("gw-b2", connection: 3, at: 3_000)
        // Written in order: once gw-b2 is there, both disconnects were applied.
        try await eventually("gw-b2 online", logs: logs) { await a.bus.gateways().contains { $0.gateway == "gw-b2" } }
        #expect(await a.bus.gateways().contains { $0.gateway == "gw-b" } == false)
        // A row of a gateway this instance no longer holds (a lost write) goes at the next heartbeat.
        try await psql(url, "INSERT INTO cluster_gateways VALUES ('gw-stale', 'B', 9, 4000)")
        try await eventually("gw-stale removed by B's heartbeat", logs: logs) {
            try await psql(url, "SELECT count(*) FROM cluster_gateways WHERE gateway = 'gw-stale'") == "0"
        }
        try await b.stop()
        #expect(try await psql(url, "SELECT count(*) FROM cluster_instances WHERE id = 'B'") == "0")
        try await a.stop()
    }

    @Test func aCommandForAGatewayConnectedNowhereFailsAtOnceWithTheReason() async throws {
        let logs = LogCapture()
        let (_, a, b) = try await Self.pair(logs)
        let result = await a.bus.send(command: "readCO2", to: "co2", on: "gw-none", arguments: [:], timeout: .seconds(30))
        #expect(result.status == .failed && result.message == "gateway \"gw-none\" is not connected")
        #expect(await a.bus.tap("co2", on: "gw-none", start: true) == false)
        try await a.stop()
        try await b.stop()
    }
}
