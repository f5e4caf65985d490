import Foundation
import SerialBridgeProtocol
import SerialBridgeSpool
import Synchronization
import Testing

@Suite("Spool: append, read back, acknowledge")
struct SpoolTests {
    @Test func framesComeBackInOrderAndAcknowledgedSegmentsAreDeleted() throws {
        let fixture = try SpoolFixture()
        let spool = try fixture.open(SpoolConfiguration(segmentBytes: 1_000, automaticCommit: false))
        var sequence: Int64 = 1
        for size in [1, 5, 20, 3, 40, 31] {
            #expect(spool.append(SpoolFixture.frames(1, sequence...(sequence + Int64(size) - 1))) == size)
            sequence += Int64(size)
        }
        let read = SpoolFixture.readAll(spool)
        #expect(SpoolFixture.ids(read) == SpoolFixture.ids(1, 1...100))
        #expect(fixture.segmentFiles.count > 5)
        #expect(spool.depth == 100)
        #expect(spool.read(limit: 10).isEmpty)

        spool.acknowledge(upTo: ReadingID(epoch: 1, sequence: 60))
        #expect(spool.depth == 40)
        let remaining = fixture.segmentFiles
        #expect(remaining.count < 7)
        // Rewind: the unacknowledged rest, oldest first, none of the acknowledged ones.
        spool.rewind()
        #expect(SpoolFixture.readAll(spool, batch: 1000).map(\.id.sequence) == Array(61...100))
        spool.acknowledge(upTo: ReadingID(epoch: 1, sequence: 100))
        #expect(spool.depth == 0)
        // Only the segment still being written to stays.
        #expect(fixture.segmentFiles.count == 1)
        spool.close()
    }

    @Test func reconnectResendsEverythingUnacknowledgedOldestFirstWhileNewFramesFollow() throws {
        let fixture = try SpoolFixture()
        let spool = try fixture.open()
        spool.append(SpoolFixture.frames(4, 1...10))
        #expect(spool.read(limit: 5).map(\.id.sequence) == [1, 2, 3, 4, 5])
        spool.acknowledge(upTo: ReadingID(epoch: 4, sequence: 3))
        spool.append(SpoolFixture.frames(4, 11...12))
        // The link dropped with 4 and 5 sent but not acknowledged: a new connection starts at 4.
        spool.rewind()
        #expect(spool.unsent == 9)
        #expect(spool.read(limit: 2).map(\.id.sequence) == [4, 5])
        spool.append(SpoolFixture.frames(4, 13...13))
        #expect(SpoolFixture.readAll(spool).map(\.id.sequence) == Array(6...13))
        spool.close()
    }

    @Test func aReopenedSpoolHasWhatThePreviousRunDidNotGetAcknowledged() throws {
        let fixture = try SpoolFixture()
        let first = try fixture.open(SpoolConfiguration(segmentBytes: 2_000, automaticCommit: false))
        first.append(SpoolFixture.frames(1, 1...50))
        first.acknowledge(upTo: ReadingID(epoch: 1, sequence: 20))
        first.close()

        let second = try fixture.open()
        #expect(second.recovery.frames == 30)
        #expect(second.recovery.newestEpoch == 1)
        #expect(second.recovery.newest == ReadingID(epoch: 1, sequence: 50))
        #expect(second.status.acknowledged == ReadingID(epoch: 1, sequence: 20))
        // The next run's frames follow the previous run's backlog.
        second.append(SpoolFixture.frames(2, 1...3))
        let read = SpoolFixture.readAll(second)
        #expect(SpoolFixture.ids(read) == SpoolFixture.ids(1, 21...50) + SpoolFixture.ids(2, 1...3))
        second.close()
    }

    @Test func aSecondSpoolOnTheSameFolderIsRefused() throws {
        let fixture = try SpoolFixture()
        let first = try fixture.open()
        #expect(throws: SpoolError.self) { _ = try fixture.open() }
        first.close()
        try fixture.open().close()
    }

    @Test func groupCommitMakesOneFsyncPerBurstAndRaisesTheCommittedMark() throws {
        let fixture = try SpoolFixture()
        let syncs = SyncCounter()
        let spool = try syncs.openManuallyCommitted(fixture)
        let before = ContinuousClock.now
        // A burst: 64 devices' readings, one append each.
        for sequence in Int64(1)...64 { spool.append([SpoolFixture.frame(1, sequence)]) }
        #expect(spool.status.lastAppended == ReadingID(epoch: 1, sequence: 64))
        #expect(spool.status.committed == nil)
        #expect(!spool.commitIfDue(now: before + .milliseconds(50)))
        #expect(syncs.count == 0)
        let after = ContinuousClock.now
        #expect(spool.commitIfDue(now: after + .milliseconds(100)))
        #expect(syncs.count == 1)
        #expect(spool.status.committed == ReadingID(epoch: 1, sequence: 64))
        #expect(spool.status.commits == 1)
        // Nothing new: nothing to do.
        #expect(!spool.commitIfDue(now: after + .seconds(10)))
        // commitFrames waiting: due at once, whatever the time.
        spool.append(SpoolFixture.frames(1, 65...1_064))
        #expect(spool.commitIfDue(now: before))
        #expect(spool.status.committed == ReadingID(epoch: 1, sequence: 1_064))
        #expect(syncs.count == 2)
        spool.close()
    }

    @Test func framesTheServerAcknowledgedBeforeTheirCommitAreNeverFsynced() throws {
        let fixture = try SpoolFixture()
        let syncs = SyncCounter()
        let spool = try syncs.openManuallyCommitted(fixture)
        spool.append(SpoolFixture.frames(1, 1...10))
        // Acknowledged in part: the rest still needs its fsync.
        spool.acknowledge(upTo: ReadingID(epoch: 1, sequence: 4))
        #expect(spool.status.committed == nil)
        // Acknowledged in full: nothing is left to commit, and the mark covers what the server holds.
        spool.acknowledge(upTo: ReadingID(epoch: 1, sequence: 10))
        #expect(spool.status.committed == ReadingID(epoch: 1, sequence: 10))
        // The next commit only makes the new segment's folder entry durable (for frames to come).
        spool.commitIfDue(now: .now + .seconds(10))
        #expect(syncs.count == 0)
        #expect(!spool.commitIfDue(now: .now + .seconds(10)))
        // A frame appended after the ack is committed as ever: one fsync of its segment.
        spool.append([SpoolFixture.frame(1, 11)])
        #expect(spool.commitIfDue(now: .now + .seconds(10)))
        #expect(spool.status.committed == ReadingID(epoch: 1, sequence: 11))
        #expect(syncs.count == 1)
        spool.close()
    }

    @Test func theCommitThreadCommitsOnItsOwnWithinTheInterval() async throws {
        let fixture = try SpoolFixture()
        let spool = try fixture.open(SpoolConfiguration(commitInterval: .milliseconds(20)))
        spool.append(SpoolFixture.frames(1, 1...10))
        try await eventually("committed by the commit thread") { spool.status.committed == ReadingID(epoch: 1, sequence: 10) }
        spool.close()
    }
}

/// Counts the spool's fsyncs of segment files (the folder's own fsync does not go through SpoolIO).
private final class SyncCounter: Sendable {
    private let syncs = Mutex(0)

    var count: Int { syncs.withLock { $0 } }

    /// A spool on `fixture` that commits only when told (100 ms, 1,000 frames), counting fsyncs.
    func openManuallyCommitted(_ fixture: SpoolFixture) throws -> Spool {
        let counting = SpoolIO(write: SpoolIO.posix.write) { descriptor in
            self.syncs.withLock { $0 += 1 }
            return SpoolIO.posix.sync(descriptor)
        }
        let configuration = SpoolConfiguration(commitInterval: .milliseconds(100), commitFrames: 1_000, automaticCommit: false)
        return try fixture.open(configuration, io: counting)
    }
}
