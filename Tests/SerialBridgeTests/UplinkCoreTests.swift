import Logging
import SerialBridgeProtocol
import SerialBridgeSimulator
import SerialBridgeSpool
@testable import SerialBridgeUplink
import Testing

@Suite("Reconnect backoff")
struct BackoffTests {
    @Test func delaysGrowExponentiallyWithinJitterBoundsUpToTheCap() {
        var backoff = Backoff(initial: .milliseconds(500), multiplier: 2, cap: .seconds(8), floor: .milliseconds(50))
        var random = SerialBridgeSimulator.SplitMix64(seed: 42)
        let ceilings: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)]
        for ceiling in ceilings {
            #expect(backoff.currentCeiling == ceiling)
            let delay = backoff.nextDelay(using: &random)
            #expect(delay >= .milliseconds(50) && delay <= ceiling)
        }
        backoff.reset()
        #expect(backoff.currentCeiling == .milliseconds(500))
    }

    @Test func jitterSpreadsDelays() {
        var random = SerialBridgeSimulator.SplitMix64(seed: 7)
        var delays: Set<Duration> = []
        for _ in 0..<20 {
            var backoff = Backoff(initial: .seconds(1), cap: .seconds(1))
            delays.insert(backoff.nextDelay(using: &random))
        }
        #expect(delays.count > 15)
    }

    @Test func refusedTokenWaitsNearTheCap() {
        var backoff = Backoff(initial: .milliseconds(100), cap: .seconds(30))
        var random = SerialBridgeSimulator.SplitMix64(seed: 1)
        for _ in 0..<100 {
            let delay = backoff.capDelay(using: &random)
            #expect(delay >= .seconds(15) && delay <= .seconds(30))
        }
    }
}

@Suite("Outbound queue over the spool")
struct OutboundQueueTests {
    let encoder = ReadingEncoder(gateway: "g", device: "d", profile: "p", fields: [("n", nil)])

    /// Readings `numbers`, each carrying its number as timestamp and value.
    func readings(_ numbers: some Sequence<Int>) -> ReadingBatch {
        var batch = ReadingBatch()
        for n in numbers { batch.append(encoder: encoder, timestamp: Int64(n), values: [.integer(Int64(n))]) }
        return batch
    }

    /// A queue of epoch `epoch` over a spool in `directory` (commits driven by the test).
    func queue(epoch: Int64, in directory: TemporaryDirectory, _ configuration: SpoolConfiguration = SpoolConfiguration(automaticCommit: false)) throws -> OutboundQueue {
        let spool = try Spool.open(directory: directory.file("spool"), configuration: configuration, logger: Logger(label: "test"))
        return OutboundQueue(gateway: "g", epoch: epoch, spool: spool)
    }

    @Test func identitiesAreAssignedInOrderFromOne() async throws {
        let directory = try TemporaryDirectory()
        let queue = try queue(epoch: 3, in: directory)
        queue.enqueue(readings(1...3))
        let batch = await queue.nextBatch(limit: 10)
        #expect(batch.map(\.id) == [1, 2, 3].map { ReadingID(epoch: 3, sequence: $0) })
        #expect(batch.frames.first?.payload == encoder.encode(id: ReadingID(epoch: 3, sequence: 1), timestamp: 1, values: [.integer(1)]))
        #expect(queue.snapshot.lastAssigned == ReadingID(epoch: 3, sequence: 3))
        queue.close()
    }

    @Test func batchesJoinedByTheAppendBatcherKeepEveryReadingWhole() async throws {
        let directory = try TemporaryDirectory()
        let queue = try queue(epoch: 4, in: directory)
        let other = ReadingEncoder(gateway: "g", device: "e", profile: "p", fields: [("a", "V"), ("b", nil)], format: .binary)
        var joined = readings(1...2)
        var second = ReadingBatch()
        second.append(encoder: other, timestamp: 7, values: [nil, .float(2.5)], outOfRange: ["b"])
        second.append(encoder: encoder, timestamp: 8, values: [.string("x\"y")])
        joined.append(contentsOf: second)
        queue.enqueue(joined)
        let batch = await queue.nextBatch(limit: 10)
        let id = { ReadingID(epoch: 4, sequence: $0) }
        #expect(batch.frames.map(\.payload) == [
            encoder.encode(id: id(1), timestamp: 1, values: [.integer(1)]),
            encoder.encode(id: id(2), timestamp: 2, values: [.integer(2)]),
            other.encode(id: id(3), timestamp: 7, values: [nil, .float(2.5)], outOfRange: ["b"]),
            encoder.encode(id: id(4), timestamp: 8, values: [.string("x\"y")]),
        ])
        #expect(batch.map(\.timestamp) == [1, 2, 7, 8])
        queue.close()
    }

    @Test func cumulativeAckDropsThePrefixAndRewindResendsTheRest() async throws {
        let directory = try TemporaryDirectory()
        let queue = try queue(epoch: 1, in: directory)
        queue.enqueue(readings(1...5))
        #expect(await queue.nextBatch(limit: 10).count == 5)
        queue.acknowledge(upTo: ReadingID(epoch: 1, sequence: 2))
        #expect(queue.snapshot.depth == 3)
        #expect(queue.snapshot.unsent == 0)
        queue.rewind()
        #expect(await queue.nextBatch(limit: 10).map(\.id.sequence) == [3, 4, 5])
        queue.close()
    }

    @Test func anAckFromAnEarlierEpochDropsNothingOfThisOne() async throws {
        let directory = try TemporaryDirectory()
        let queue = try queue(epoch: 2, in: directory)
        queue.enqueue(readings(1...2))
        queue.acknowledge(upTo: ReadingID(epoch: 1, sequence: 900))
        #expect(queue.snapshot.depth == 2)
        queue.close()
    }

    @Test func framesTheSpoolRefusesGiveTheirIdentitiesBack() async throws {
        let directory = try TemporaryDirectory()
        // Room for three records of about 140 bytes: the rest of a burst is refused, and counted.
        let configuration = SpoolConfiguration(maxBytes: 600, whenFull: .rejectNewest, segmentBytes: 10_000, automaticCommit: false)
        let queue = try queue(epoch: 1, in: directory, configuration)
        queue.enqueue(readings(1...10))
        let taken = queue.snapshot.lastAssigned.sequence
        #expect(taken == 3)
        #expect(queue.snapshot.dropped == UInt64(10 - taken))
        // Once acknowledged, the room is back and numbering continues without a gap.
        queue.acknowledge(upTo: ReadingID(epoch: 1, sequence: taken))
        queue.enqueue(readings([11]))
        #expect(await queue.nextBatch(limit: 20).map(\.id.sequence).last == taken + 1)
        queue.close()
    }

    @Test func waitingSenderWakesOnEnqueueAndOnCancel() async throws {
        let directory = try TemporaryDirectory()
        let queue = try queue(epoch: 1, in: directory)
        let waiter = Task { await queue.nextBatch(limit: 10).count }
        queue.enqueue(readings([1]))
        #expect(await waiter.value == 1)
        let cancelled = Task { await queue.nextBatch(limit: 10).count }
        cancelled.cancel()
        #expect(await cancelled.value == 0)
        queue.close()
    }

    @Test func serverURLsParse() {
        #expect(ServerURL("ws://127.0.0.1:8080/gateway/v1")?.authPath == "/gateway/v1/auth")
        #expect(ServerURL("wss://example.org/gateway/v1")?.port == 443)
        #expect(ServerURL("ws://[::1]:9/x")?.host == "::1")
        #expect(ServerURL("http://x/") == nil)
        #expect(ServerURL("ws://:80/") == nil)
        #expect(ServerURL("ws://h:99999/") == nil)
    }
}

@Suite("Heartbeats")
struct HeartbeatMonitorTests {
    @Test func aSilentLinkIsDeadAfterThreeUnansweredPings() {
        var monitor = HeartbeatMonitor(allowedMisses: 3)
        #expect(monitor.tick() == .sendPing)
        #expect(monitor.tick() == .sendPing)
        #expect(monitor.tick() == .sendPing)
        #expect(monitor.tick() == .declareDead(missed: 3))
    }

    @Test func aPongResetsTheCountAndGivesTheRoundTrip() {
        var monitor = HeartbeatMonitor(allowedMisses: 3)
        _ = monitor.tick()
        _ = monitor.tick()
        monitor.pongReceived(sentAt: 1_000, now: 1_042)
        #expect(monitor.outstanding == 0)
        #expect(monitor.lastRTTMilliseconds == 42)
        for _ in 0..<3 { #expect(monitor.tick() == .sendPing) }
    }

    @Test func aClockStepBackwardsNeverGivesANegativeRoundTrip() {
        var monitor = HeartbeatMonitor()
        monitor.pongReceived(sentAt: 5_000, now: 4_000)
        #expect(monitor.lastRTTMilliseconds == 0)
    }
}
