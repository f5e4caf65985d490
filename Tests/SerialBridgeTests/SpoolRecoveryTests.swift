import Foundation
@testable import SerialBridgeGateway
import SerialBridgeProtocol
import SerialBridgeSpool
import Testing

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
