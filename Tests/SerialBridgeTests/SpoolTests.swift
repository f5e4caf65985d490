import Foundation
import Logging
@testable import SerialBridgeGateway
import SerialBridgeProtocol
import SerialBridgeSpool
import Synchronization
import Testing

/// A spool in a test's own folder, with commits driven by the test unless it asks otherwise.
struct SpoolFixture {
    let directory: TemporaryDirectory
    let logs = LogCapture()
    var path: String { directory.file("spool") }

    init() throws { directory = try TemporaryDirectory() }

    static let manual = SpoolConfiguration(automaticCommit: false)

    func open(_ configuration: SpoolConfiguration = manual, io: SpoolIO = .posix) throws -> Spool {
        try Spool.open(directory: path, configuration: configuration, io: io, lockPatience: .milliseconds(100), logger: logs.logger("spool"))
    }

    /// A frame whose payload names its identity, padded to `size` bytes.
    static func frame(_ epoch: Int64, _ sequence: Int64, size: Int = 64, timestamp: Int64 = 1_000) -> SpoolFrame {
        var payload = Array("frame \(epoch)/\(sequence) ".utf8)
        payload += repeatElement(UInt8(ascii: "x"), count: max(0, size - payload.count))
        return SpoolFrame(id: ReadingID(epoch: epoch, sequence: sequence), timestamp: timestamp, payload: payload)
    }

    static func frames(_ epoch: Int64, _ sequences: ClosedRange<Int64>, size: Int = 64) -> [SpoolFrame] {
        sequences.map { frame(epoch, $0, size: size) }
    }

    /// Everything the sender can read now, in batches of `batch`.
    static func readAll(_ spool: Spool, batch: Int = 7) -> [SpoolFrame] {
        var all: [SpoolFrame] = []
        while true {
            let frames = spool.read(limit: batch)
            if frames.isEmpty { return all }
            all += frames
        }
    }

    /// Identities of `frames`, or a note naming the first frame whose payload is not the one
    /// ``frame(_:_:size:timestamp:)`` makes (so failures print identities, not bytes).
    static func ids(_ frames: [SpoolFrame], size: Int = 64) -> [String] {
        frames.map { frame in
            frame.payload == Self.frame(frame.id.epoch, frame.id.sequence, size: size).payload ? "\(frame.id)" : "\(frame.id) (wrong payload)"
        }
    }

    static func ids(_ epoch: Int64, _ sequences: ClosedRange<Int64>) -> [String] { sequences.map { "\(epoch)/\($0)" } }

    var segmentFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
    }

    func files(containing text: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.contains(text) }.sorted()
    }
}

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
        let syncs = Mutex(0)
        let counting = SpoolIO(write: SpoolIO.posix.write) { descriptor in
            syncs.withLock { $0 += 1 }
            return SpoolIO.posix.sync(descriptor)
        }
        let configuration = SpoolConfiguration(commitInterval: .milliseconds(100), commitFrames: 1_000, automaticCommit: false)
        let spool = try fixture.open(configuration, io: counting)
        let before = ContinuousClock.now
        // A burst: 64 devices' readings, one append each.
        for sequence in Int64(1)...64 { spool.append([SpoolFixture.frame(1, sequence)]) }
        #expect(spool.status.lastAppended == ReadingID(epoch: 1, sequence: 64))
        #expect(spool.status.committed == nil)
        #expect(!spool.commitIfDue(now: before + .milliseconds(50)))
        #expect(syncs.withLock { $0 } == 0)
        let after = ContinuousClock.now
        #expect(spool.commitIfDue(now: after + .milliseconds(100)))
        #expect(syncs.withLock { $0 } == 1)
        #expect(spool.status.committed == ReadingID(epoch: 1, sequence: 64))
        #expect(spool.status.commits == 1)
        // Nothing new: nothing to do.
        #expect(!spool.commitIfDue(now: after + .seconds(10)))
        // commitFrames waiting: due at once, whatever the time.
        spool.append(SpoolFixture.frames(1, 65...1_064))
        #expect(spool.commitIfDue(now: before))
        #expect(spool.status.committed == ReadingID(epoch: 1, sequence: 1_064))
        #expect(syncs.withLock { $0 } == 2)
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

@Suite("Spool: damage and recovery")
struct SpoolRecoveryTests {
    @Test func aTornLastRecordIsCutOffWithALogLine() throws {
        let fixture = try SpoolFixture()
        let first = try fixture.open()
        first.append(SpoolFixture.frames(1, 1...10))
        first.close()
        let file = fixture.path + "/" + (fixture.segmentFiles.last ?? "")
        // The last write reached the disk only in part.
        let size = try #require(FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        #expect(truncate(file, off_t(size - 5)) == 0)

        let second = try fixture.open()
        #expect(second.recovery.tornTails == 1)
        #expect(SpoolFixture.ids(SpoolFixture.readAll(second)) == SpoolFixture.ids(1, 1...9))
        #expect(fixture.logs.count(containing: "discarded a torn last record") == 1)
        // The spool goes on: the next run's frames are kept and read back.
        second.append(SpoolFixture.frames(2, 1...2))
        #expect(SpoolFixture.ids(SpoolFixture.readAll(second)) == SpoolFixture.ids(2, 1...2))
        second.close()
    }

    @Test func zerosAfterTheLastRecordAreATornTailToo() throws {
        let fixture = try SpoolFixture()
        let first = try fixture.open()
        first.append(SpoolFixture.frames(1, 1...3))
        first.close()
        let handle = try #require(FileHandle(forWritingAtPath: fixture.path + "/" + (fixture.segmentFiles.last ?? "")))
        handle.seekToEndOfFile()
        handle.write(Data(count: 4096))
        handle.closeFile()
        let second = try fixture.open()
        #expect(second.recovery.tornTails == 1)
        #expect(SpoolFixture.readAll(second).count == 3)
        second.close()
    }

    @Test func aDamagedFileIsMovedAsideAndTheNewEpochKeepsIdentitiesUnique() throws {
        let fixture = try SpoolFixture()
        let state = fixture.directory.file("state")
        let spoolPath = state + "/spool"
        let firstEpoch = try EpochStore.advance(in: state)
        let first = try Spool.open(directory: spoolPath, configuration: SpoolConfiguration(segmentBytes: 1_000, automaticCommit: false), logger: fixture.logs.logger())
        first.append(SpoolFixture.frames(firstEpoch, 1...30))
        first.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: spoolPath).filter { $0.hasSuffix(".seg") }.sorted()
        #expect(names.count >= 3)
        // A flipped bit in the middle of the first segment: valid records follow the bad one.
        let damaged = spoolPath + "/" + names[0]
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: damaged)))
        bytes[SegmentFile.headerSize + 100 + 50] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        // The epoch file is lost as well: the spool's own epochs keep the next one above them.
        try FileManager.default.removeItem(atPath: state + "/epoch")

        let second = try Spool.open(directory: spoolPath, configuration: SpoolFixture.manual, logger: fixture.logs.logger())
        #expect(second.recovery.movedAside.count == 1)
        #expect(second.recovery.movedAside.first?.hasPrefix(damaged + ".corrupt-") == true)
        #expect(FileManager.default.fileExists(atPath: second.recovery.movedAside.first ?? ""))
        #expect(fixture.logs.count(containing: "is damaged") == 1)
        let epoch = try EpochStore.advance(in: state, above: second.recovery.newestEpoch)
        #expect(epoch == firstEpoch + 1)
        second.append(SpoolFixture.frames(epoch, 1...5))
        let held = SpoolFixture.readAll(second, batch: 100)
        // What the intact segments held, then the new run's frames; no identity twice.
        #expect(held.last?.id == ReadingID(epoch: epoch, sequence: 5))
        #expect(held.first.map { $0.id > ReadingID(epoch: firstEpoch, sequence: 1) } == true)
        #expect(Set(held.map(\.id)).count == held.count)
        #expect(zip(held, held.dropFirst()).allSatisfy { $0.id < $1.id })
        second.close()
    }

    @Test func aFileWithABadHeaderIsMovedAside() throws {
        let fixture = try SpoolFixture()
        let first = try fixture.open(SpoolConfiguration(segmentBytes: 500, automaticCommit: false))
        first.append(SpoolFixture.frames(1, 1...20))
        first.close()
        let last = fixture.path + "/" + (fixture.segmentFiles.last ?? "")
        let handle = try #require(FileHandle(forUpdatingAtPath: last))
        handle.write(Data("NOTSPOOL".utf8))
        handle.closeFile()
        let second = try fixture.open()
        #expect(second.recovery.movedAside.count == 1)
        #expect(fixture.logs.messages.contains { $0.contains("not a spool segment (bad magic)") && $0.contains("moved aside") })
        #expect(SpoolFixture.readAll(second).map(\.id.sequence).first == 1)
        second.close()
    }
}

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

@Suite("Spool: status")
struct SpoolStatusTests {
    @Test func statusComesFromTheRunningGatewaysFileOrFromTheFilesOfAStoppedOne() throws {
        let fixture = try SpoolFixture()
        #expect(throws: SpoolInspector.Failure.self) { _ = try SpoolInspector.inspect(directory: fixture.path) }
        let spool = try fixture.open()
        spool.append(SpoolFixture.frames(3, 1...40))
        spool.acknowledge(upTo: ReadingID(epoch: 3, sequence: 10))
        spool.commit()
        spool.keepHouse(now: 2_000)

        let running = try SpoolInspector.inspect(directory: fixture.path)
        #expect(running.running)
        #expect(running.pid == String(getpid()))
        #expect(running.status.depth == 30)
        #expect(running.status.committed == ReadingID(epoch: 3, sequence: 40))
        #expect(running.status.acknowledged == ReadingID(epoch: 3, sequence: 10))
        #expect(running.status.oldestUnacknowledgedTimestamp == 1_000)

        spool.close()
        let stopped = try SpoolInspector.inspect(directory: fixture.path)
        #expect(!stopped.running)
        #expect(stopped.status.depth == 30)
        #expect(stopped.status.committed == ReadingID(epoch: 3, sequence: 40))
        #expect(stopped.status.acknowledged == ReadingID(epoch: 3, sequence: 10))
        #expect(stopped.status.segments == 1)
        #expect(stopped.problems.isEmpty)
        // Inspecting took nothing: a gateway can open the spool right after.
        try fixture.open().close()
    }
}
