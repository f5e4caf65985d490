import SerialBridgeParsing
import Testing

@Suite("Fixed-length framing")
struct FixedLengthFramerTests {
    /// 6-byte frames `AA ss dd dd dd 55`.
    func framer() -> FixedLengthFramer { FixedLengthFramer(length: 6, sync: [0xAA], tail: [0x55]) }

    @Test func withoutSyncFramesAreConsecutiveChunks() {
        expectSameAtEverySplit({ FixedLengthFramer(length: 4) }, Array("abcdefghij".utf8), [
            .frame(Array("abcd".utf8), at: 0), .frame(Array("efgh".utf8), at: 4),
        ])
    }

    @Test func frameSplitAcrossReadsAtEveryPoint() {
        expectSameAtEverySplit(framer, framerHex("AA 01 02 03 04 55 AA 05 06 07 08 55"), [
            .frame(framerHex("AA 01 02 03 04 55"), at: 0), .frame(framerHex("AA 05 06 07 08 55"), at: 6),
        ])
    }

    @Test func twoFramesInOneChunkArePassedWithoutCopying() {
        let (log, framer) = recordFraming(framer, [framerHex("AA 01 02 03 04 55 AA 05 06 07 08 55")])
        #expect(log.frames == [framerHex("AA 01 02 03 04 55"), framerHex("AA 05 06 07 08 55")])
        #expect(log.framesFromChunk == [true, true])
        #expect(framer.counters.frames == 2)
        #expect(framer.counters.discardedBytes == 0)
        #expect(framer.counters.resyncs == 0)
    }

    @Test func garbageBeforeBetweenAndAfterFramesIsReportedOncePerRun() {
        let input = framerHex("01 02 AA 01 02 03 04 55 03 04 05 AA 05 06 07 08 55 06 07")
        let expected: [FramerRecord] = [
            .rejected("no sync header", at: 0), .frame(framerHex("AA 01 02 03 04 55"), at: 2),
            .rejected("no sync header", at: 8), .frame(framerHex("AA 05 06 07 08 55"), at: 11),
            .rejected("no sync header", at: 17),
        ]
        expectSameAtEverySplit(framer, input, expected)
        var framer = framer()
        let log = recordFraming(&framer, [input, framerHex("AA 09 09 09 09 55")])
        #expect(log.events == expected + [.frame(framerHex("AA 09 09 09 09 55"), at: 19)])
        #expect(framer.counters.discardedBytes == 7)
        #expect(framer.counters.resyncs == 3)
    }

    @Test func badTailRestartsOneByteAfterTheFrameStartSoAnOverlappingFrameSurvives() {
        // The candidate at 0 ends in 04, not 55; the real frame starts at 2, inside it.
        expectSameAtEverySplit(framer, framerHex("AA 10 AA 01 02 03 04 55 AA 05 06 07 08 55"), [
            .rejected("tail mismatch", at: 0),
            .frame(framerHex("AA 01 02 03 04 55"), at: 2), .frame(framerHex("AA 05 06 07 08 55"), at: 8),
        ])
        let (_, framer) = recordFraming(framer, [framerHex("AA 10 AA 01 02 03 04 55")])
        #expect(framer.counters.discardedBytes == 2)
        #expect(framer.counters.resyncs == 1)
    }

    @Test func tailWithoutSyncSlidesUntilItLinesUp() {
        // Frames `x x 0A`: after two stray bytes the framer realigns on the tail.
        expectSameAtEverySplit({ FixedLengthFramer(length: 3, tail: [0x0A]) }, framerHex("31 32 0A 33 34 35 36 0A 37 38 0A"), [
            .frame(framerHex("31 32 0A"), at: 0), .rejected("tail mismatch", at: 3),
            .frame(framerHex("35 36 0A"), at: 5), .frame(framerHex("37 38 0A"), at: 8),
        ])
    }

    @Test func multiByteSyncThatOverlapsItselfIsFound() {
        // Sync `AA AA AB`: the stream `AA AA AA AB` holds it from index 1.
        expectSameAtEverySplit({ FixedLengthFramer(length: 5, sync: framerHex("AA AA AB")) }, framerHex("AA AA AA AB 01 02 AA AA AB 03 04"), [
            .rejected("no sync header", at: 0), .frame(framerHex("AA AA AB 01 02"), at: 1), .frame(framerHex("AA AA AB 03 04"), at: 6),
        ])
    }

    @Test func syncBytesInsideAFrameDoNotCutIt() {
        expectSameAtEverySplit(framer, framerHex("AA AA AA 55 AA 55 AA 01 02 03 04 55"), [
            .frame(framerHex("AA AA AA 55 AA 55"), at: 0), .frame(framerHex("AA 01 02 03 04 55"), at: 6),
        ])
    }

    @Test func bufferStaysBoundedThroughAMegabyteOfGarbage() {
        // Random bytes without a sync, then sync-only garbage whose every candidate fails its tail.
        var framer = framer()
        let log = expectBoundedThroughGarbage(
            &framer, garbage: { random in UInt8(truncatingIfNeeded: random.next()) & 0x7F },
            then: framerHex("AA 01 02 03 04 55"), expectedFrame: framerHex("AA 01 02 03 04 55"), bound: 5
        )
        #expect(log.events.count == 2)
        #expect(framer.counters.discardedBytes == 1 << 20)
        var syncs = FixedLengthFramer(length: 6, sync: [0xAA], tail: [0x55])
        _ = expectBoundedThroughGarbage(
            &syncs, garbage: { _ in 0xAA }, then: framerHex("AA 01 02 03 04 55"), expectedFrame: framerHex("AA 01 02 03 04 55"), bound: 5
        )
        #expect(syncs.counters.resyncs == 1)
    }

    @Test func countersAddUp() {
        var framer = framer()
        _ = recordFraming(&framer, [framerHex("00 AA 01 02"), framerHex("03 04 55 AA 10 AA")])
        // 1 garbage byte, one frame; the 3 bytes of `AA 10 AA` are still undecided.
        #expect(framer.counters.bytes == 10)
        #expect(framer.counters.frames == 1)
        #expect(framer.counters.discardedBytes == 1)
        #expect(framer.bufferedBytes == 3)
    }

    @Test func randomInputNeverBreaksTheInvariants() {
        smokeFramer(seed: 1, interesting: [0xAA, 0x55], maxFrame: 8, bound: 7) { random in
            let length = 2 + Int(random.next() % 7)
            return switch random.next() % 3 {
            case 0: FixedLengthFramer(length: length)
            case 1: FixedLengthFramer(length: length, sync: [0xAA], tail: [0x55])
            default: FixedLengthFramer(length: length, sync: [0xAA, 0x55])
            }
        }
    }

    @Test func configurationIsReadAndChecked() {
        let good = readFraming(FixedLengthFraming.self, #"{"type": "fixed", "length": 32, "sync": "42 4D", "tail": "0D 0A"}"#)
        #expect(good.errors.isEmpty)
        #expect(good.config == FixedLengthFraming(length: 32, sync: [0x42, 0x4D], tail: [0x0D, 0x0A]))
        #expect(readFraming(FixedLengthFraming.self, #"{"type": "fixed"}"#).errors == ["$.framing.length: is required"])
        #expect(readFraming(FixedLengthFraming.self, #"{"type": "fixed", "length": 0}"#).errors
            == ["$.framing.length: must be an integer from 1 to 65536"])
        #expect(readFraming(FixedLengthFraming.self, #"{"type": "fixed", "length": 3, "sync": "42 4D", "tail": "0D 0A"}"#).errors
            == ["$.framing.length: must be at least the sync and tail together (4 bytes)"])
        let framer = good.config?.makeFramer()
        #expect(framer is FixedLengthFramer)
    }
}
