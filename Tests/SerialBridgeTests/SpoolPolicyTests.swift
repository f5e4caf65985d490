import SerialBridgeProtocol
@testable import SerialBridgeSpool
import SerialBridgeUplink
import Testing

@Suite("Spool record format: byte-exact vectors")
struct SpoolRecordFormatTests {
    static let frame = SpoolFrame(
        id: ReadingID(epoch: 7, sequence: 1), timestamp: 1_795_753_200_000,
        payload: Array(#"{"type":"ack","epoch":7,"seq":1}"#.utf8)
    )

    @Test func crc32HasTheCatalogueCheckValueAndContinuesOverParts() {
        let bytes = Array("123456789".utf8)
        #expect(CRC32.checksum(bytes) == 0xCBF4_3926)
        #expect(CRC32.checksum(Array(bytes[4...]), initial: CRC32.checksum(Array(bytes[..<4]))) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
    }

    @Test func theCarryLessFoldAgreesWithTheTableAtEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<4_200).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // The fold takes runs of 64 bytes or more in 16-byte blocks: lengths around those edges,
        // at every alignment, continued from a nonzero register, and one large run.
        let lengths = Array(0...200) + [255, 256, 257, 1_000, 1_023, 1_024, 4_096]
        bytes.withUnsafeBytes { all in
            for length in lengths {
                for start in 0..<(length < 300 ? 16 : 2) {
                    let part = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let initial = UInt32(truncatingIfNeeded: length &* 2_654_435_761)
                    #expect(CRC32.checksum(part, initial: initial) == ~CRC32.table(~initial, part), "length \(length) at \(start)")
                }
            }
        }
        // Of a mebibyte of zeros, as zlib's crc32 gives it.
        #expect(CRC32.checksum([UInt8](repeating: 0, count: 1 << 20)) == 0xA738_EA1C)
    }

    @Test func aRecordIsTheVectorBytes() throws {
        var buffer: [UInt8] = []
        SpoolRecord.append(Self.frame, to: &buffer)
        #expect(buffer == (try vectorBytes("spool-record")))
    }

    @Test func theVectorDecodesToTheFrame() throws {
        let bytes = try vectorBytes("spool-record")
        let scan = bytes.withUnsafeBytes { SpoolRecord.scan($0, at: 0) }
        guard case .record(let header, let payload) = scan else {
            Issue.record("not a record: \(scan)")
            return
        }
        #expect(header.id == Self.frame.id)
        #expect(header.timestamp == Self.frame.timestamp)
        #expect(Array(bytes[payload]) == Self.frame.payload)
    }

    @Test func everyFlippedByteAndEveryCutIsDetected() throws {
        let bytes = try vectorBytes("spool-record")
        for index in bytes.indices {
            var damaged = bytes
            damaged[index] ^= 0x01
            let scan = damaged.withUnsafeBytes { SpoolRecord.scan($0, at: 0) }
            if case .record = scan { Issue.record("flip at \(index) went unnoticed") }
        }
        for length in 0..<bytes.count {
            let scan = Array(bytes[..<length]).withUnsafeBytes { SpoolRecord.scan($0, at: 0) }
            if case .record = scan { Issue.record("cut at \(length) went unnoticed") }
        }
    }

    @Test func aSegmentHeaderIsTheVectorBytesAndNamesItsEpoch() throws {
        let expected = try vectorBytes("spool-segment-header")
        #expect(SegmentFile.header(epoch: 7) == expected)
        #expect(try expected.withUnsafeBytes { SegmentFile.epoch(ofHeader: $0) }.get() == 7)
        var damaged = expected
        damaged[13] ^= 0x40
        #expect((try? damaged.withUnsafeBytes { SegmentFile.epoch(ofHeader: $0) }.get()) == nil)
        #expect(SegmentFile.name(42) == "00000042.seg")
        #expect(SegmentFile.number(ofName: "00000042.seg") == 42)
        #expect(SegmentFile.number(ofName: "00000042.seg.corrupt-1700000000") == nil)
    }
}

@Suite("Spool policies, with explicit instants")
struct SpoolPolicyTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    @Test func groupCommitWaitsForTheIntervalOrTheFrameCount() {
        let policy = GroupCommitPolicy(interval: .milliseconds(100), frames: 1000)
        #expect(policy.decide(pending: 0, oldestSince: nil, now: at(0)) == .idle)
        // A burst appended at 0 ms is committed once, at 100 ms.
        #expect(policy.decide(pending: 500, oldestSince: at(0), now: at(0)) == .commitAt(at(100)))
        #expect(policy.decide(pending: 900, oldestSince: at(0), now: at(99)) == .commitAt(at(100)))
        #expect(policy.decide(pending: 900, oldestSince: at(0), now: at(100)) == .commitNow)
        // Enough frames waiting: at once.
        #expect(policy.decide(pending: 1000, oldestSince: at(0), now: at(1)) == .commitNow)
        // The interval runs from the oldest uncommitted frame, not from the newest.
        #expect(policy.decide(pending: 3, oldestSince: at(40), now: at(130)) == .commitAt(at(140)))
    }

    @Test func retentionDropsTheOldestSegmentsUntilTheFrameFits() {
        let dropOldest = RetentionPolicy(maxBytes: 1000, whenFull: .dropOldest)
        #expect(dropOldest.admit(incoming: 100, segments: [300, 300, 200]) == .admit(droppingOldest: 0))
        #expect(dropOldest.admit(incoming: 300, segments: [300, 300, 200]) == .admit(droppingOldest: 1))
        #expect(dropOldest.admit(incoming: 700, segments: [300, 300, 200]) == .admit(droppingOldest: 2))
        #expect(dropOldest.admit(incoming: 1000, segments: [300, 300, 200]) == .admit(droppingOldest: 3))
        #expect(dropOldest.admit(incoming: 1001, segments: []) == .reject)
        let rejectNewest = RetentionPolicy(maxBytes: 1000, whenFull: .rejectNewest)
        #expect(rejectNewest.admit(incoming: 200, segments: [300, 300, 200]) == .admit(droppingOldest: 0))
        #expect(rejectNewest.admit(incoming: 201, segments: [300, 300, 200]) == .reject)
    }

    @Test func retentionExpiresLeadingSegmentsPastTheMaximumAge() {
        let policy = RetentionPolicy(maxBytes: 1 << 30, maxAgeMilliseconds: 60_000)
        let newest: [Int64] = [10_000, 50_000, 70_000, 20_000]
        #expect(policy.expired(newestTimestamps: newest, now: 100_000) == 1)
        #expect(policy.expired(newestTimestamps: newest, now: 120_000) == 2)
        #expect(policy.expired(newestTimestamps: newest, now: 70_000) == 0)
        #expect(policy.expired(newestTimestamps: newest, now: 200_000) == 4)
        #expect(RetentionPolicy(maxBytes: 1 << 30).expired(newestTimestamps: newest, now: .max) == 0)
    }

    @Test func backlogRateLimitAllowsOneSecondOfFramesThenTheRate() {
        var limiter = BacklogRateLimiter(rate: 100)
        #expect(limiter.grant(256, now: at(0)) == .send(100))
        // Empty bucket: one frame's worth is back after 10 ms.
        #expect(limiter.grant(256, now: at(0)) == .waitUntil(at(10)))
        #expect(limiter.grant(256, now: at(10)) == .send(1))
        #expect(limiter.grant(256, now: at(510)) == .send(50))
        // Unused tokens go back; the bucket never holds more than one second.
        limiter.giveBack(30)
        #expect(limiter.grant(256, now: at(510)) == .send(30))
        #expect(limiter.grant(256, now: at(60_000)) == .send(100))
    }

    @Test func aSenderBelowTheRateIsNeverDelayed() {
        var limiter = BacklogRateLimiter(rate: 1000)
        for tick in 0..<1000 {
            #expect(limiter.grant(5, now: at(10 * tick)) == .send(5))
        }
    }

    @Test func segmentCountsAndCheckpointsFollowFromTheIdentities() {
        let first = SpoolRecord.Header(id: ReadingID(epoch: 3, sequence: 10), timestamp: 1000, length: 64)
        var info = SegmentInfo(number: 1, first: first, offset: SegmentFile.headerSize)
        for sequence in Int64(11)...609 {
            info.add(SpoolRecord.Header(id: ReadingID(epoch: 3, sequence: sequence), timestamp: 1000 + sequence, length: 64))
        }
        #expect(info.count == 600)
        #expect(info.bytes == SegmentFile.headerSize + 600 * 100)
        #expect(info.count(after: ReadingID?.none) == 600)
        #expect(info.count(after: ReadingID(epoch: 2, sequence: 99_999)) == 600)
        #expect(info.count(after: ReadingID(epoch: 3, sequence: 109)) == 500)
        #expect(info.count(after: ReadingID(epoch: 3, sequence: 609)) == 0)
        #expect(info.count(after: ReadingID(epoch: 4, sequence: 1)) == 0)
        // Looking for the first frame after 3/300: start at the checkpoint of 3/266 (every 256th frame).
        let checkpoint = info.checkpoint(after: ReadingID(epoch: 3, sequence: 300))
        #expect(checkpoint?.sequence == 266)
        #expect(checkpoint?.offset == SegmentFile.headerSize + 256 * 100)
        #expect(info.checkpoint(after: ReadingID(epoch: 3, sequence: 609)) == nil)
        #expect(info.accepts(SpoolRecord.Header(id: ReadingID(epoch: 3, sequence: 610), timestamp: 0, length: 1)))
        #expect(!info.accepts(SpoolRecord.Header(id: ReadingID(epoch: 3, sequence: 611), timestamp: 0, length: 1)))
        #expect(!info.accepts(SpoolRecord.Header(id: ReadingID(epoch: 4, sequence: 1), timestamp: 0, length: 1)))
    }
}
