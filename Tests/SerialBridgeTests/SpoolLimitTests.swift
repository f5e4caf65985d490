import Foundation
import SerialBridgeProtocol
import SerialBridgeSpool
import Synchronization
import Testing

@Suite("Spool: limits and failures")
struct SpoolLimitTests {
    @Test func dropOldestDropsWholeSegmentsAndCountsTheirUnacknowledgedFrames() throws {
        let fixture = try SpoolFixture()
        let spool = try fixture.open(SpoolConfiguration(maxBytes: 2_000, whenFull: .dropOldest, segmentBytes: 500, automaticCommit: false))
        for sequence in Int64(1)...100 { #expect(spool.append([SpoolFixture.frame(1, sequence)]) == 1) }
        let status = spool.status
        #expect(status.bytes <= 2_000)
        #expect(status.dropped > 0)
        #expect(UInt64(status.depth) + status.dropped == 100)
        let held = SpoolFixture.readAll(spool).map(\.id.sequence)
        #expect(held == Array((100 - status.depth + 1)...100))
        spool.close()
        // The count survives a restart.
        let reopened = try fixture.open()
        #expect(reopened.status.dropped == status.dropped)
        reopened.close()
    }

    @Test func droppingCountsOnlyWhatTheServerDoesNotHave() throws {
        let fixture = try SpoolFixture()
        let spool = try fixture.open(SpoolConfiguration(maxBytes: 2_000, whenFull: .dropOldest, segmentBytes: 500, automaticCommit: false))
        for sequence in Int64(1)...100 {
            spool.append([SpoolFixture.frame(1, sequence)])
            spool.acknowledge(upTo: ReadingID(epoch: 1, sequence: sequence))
        }
        #expect(spool.status.dropped == 0)
        spool.close()
    }

    @Test func rejectNewestKeepsWhatIsHeldAndCountsTheRest() throws {
        let fixture = try SpoolFixture()
        let spool = try fixture.open(SpoolConfiguration(maxBytes: 2_000, whenFull: .rejectNewest, segmentBytes: 500, automaticCommit: false))
        // As the queue does: a refused frame's identity goes to the next one.
        var taken: Int64 = 0
        for _ in 1...100 where spool.append([SpoolFixture.frame(1, taken + 1)]) == 1 { taken += 1 }
        let status = spool.status
        #expect(taken > 0 && taken < 100)
        #expect(status.dropped == UInt64(100 - taken))
        #expect(SpoolFixture.readAll(spool).map(\.id.sequence) == Array(1...taken))
        spool.close()
    }

    @Test func segmentsPastTheMaximumAgeAreDropped() throws {
        let fixture = try SpoolFixture()
        let spool = try fixture.open(SpoolConfiguration(maxAgeSeconds: 60, segmentBytes: 500, automaticCommit: false))
        let old = (Int64(1)...20).map { SpoolFixture.frame(1, $0, timestamp: 1_000_000) }
        let recent = (Int64(21)...25).map { SpoolFixture.frame(1, $0, timestamp: 1_100_000) }
        spool.append(old)
        spool.append(recent)
        spool.keepHouse(now: 1_000_000 + 59_000)
        #expect(spool.status.dropped == 0)
        spool.keepHouse(now: 1_100_000 + 30_000)
        #expect(spool.status.dropped == 20)
        #expect(SpoolFixture.readAll(spool).map(\.id.sequence) == Array(21...25))
        spool.close()
    }

    @Test func aFullDiskDropsTheOldestSegmentAndAFailingDiskIsCountedNeverThrown() throws {
        let fixture = try SpoolFixture()
        let failures = Mutex<(count: Int, code: Int32)>((0, 0))
        let faulty = SpoolIO(write: { descriptor, bytes, offset in
            let failure = failures.withLock { state -> Int32 in
                guard state.count > 0 else { return 0 }
                state.count -= 1
                return state.code
            }
            if failure != 0 {
                // Half the bytes reach the file before the disk fills up.
                _ = SpoolIO.posix.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes.prefix(bytes.count / 2)), offset)
                return (bytes.count / 2, failure)
            }
            return SpoolIO.posix.write(descriptor, bytes, offset)
        }, sync: SpoolIO.posix.sync)
        let spool = try fixture.open(SpoolConfiguration(segmentBytes: 500, automaticCommit: false), io: faulty)
        spool.append(SpoolFixture.frames(1, 1...20))
        let oldest = try #require(fixture.segmentFiles.first)

        // ENOSPC once: the oldest segment goes, its frames are counted, the write is retried.
        failures.withLock { $0 = (1, ENOSPC) }
        #expect(spool.append([SpoolFixture.frame(1, 21)]) == 1)
        #expect(!fixture.segmentFiles.contains(oldest))
        let dropped = spool.status.dropped
        #expect(dropped > 0)
        #expect(fixture.logs.count(containing: "disk full") == 1)

        // The disk stays broken: frames are refused and counted, nothing throws, one log line.
        failures.withLock { $0 = (1_000, EIO) }
        for _ in 1...10 { #expect(spool.append([SpoolFixture.frame(1, 22)]) == 0) }
        #expect(spool.status.dropped == dropped + 10)
        #expect(fixture.logs.count(containing: "frames are dropped (and counted) until writes work again") == 1)

        // It heals: numbering resumes where the spool left off, and what it holds reads back intact.
        failures.withLock { $0 = (0, 0) }
        #expect(spool.append([SpoolFixture.frame(1, 22)]) == 1)
        #expect(fixture.logs.count(containing: "spool writes work again") == 1)
        let held = SpoolFixture.readAll(spool)
        #expect(SpoolFixture.ids(held).last == "1/22")
        #expect(zip(held, held.dropFirst()).allSatisfy { $0.id.sequence + 1 == $1.id.sequence })
        spool.close()
        // Nothing torn was left behind by the failed writes.
        let reopened = try fixture.open()
        #expect(reopened.recovery.tornTails == 0)
        #expect(reopened.recovery.movedAside.isEmpty)
        reopened.close()
    }
}
