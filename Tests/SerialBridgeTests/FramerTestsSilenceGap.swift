import SerialBridgeParsing
import Testing

@Suite("Silence-gap framing")
struct SilenceGapFramerTests {
    static let ms: UInt64 = 1_000_000

    func framer() -> SilenceGapFramer { SilenceGapFramer(gapMs: 5, maxLength: 8) }

    /// Feeds `(milliseconds, bytes)` pairs; a pair without bytes is a flush at that time.
    func play(_ framer: inout SilenceGapFramer, _ steps: [(UInt64, [UInt8]?)]) -> FramerLog {
        var log = FramerLog()
        for (time, bytes) in steps {
            if let bytes {
                feedFramer(&framer, bytes, at: time * Self.ms, into: &log)
            } else {
                flushFramer(&framer, at: time * Self.ms, into: &log)
            }
        }
        return log
    }

    @Test func aGapLongerThanGapMsBetweenReadsEndsTheFrame() {
        var framer = framer()
        let log = play(&framer, [(100, framerHex("01 03 02")), (101, framerHex("00 0A")), (110, framerHex("01 03")), (111, framerHex("04 05"))])
        #expect(log.events == [.frame(framerHex("01 03 02 00 0A"), at: 0)])
        #expect(framer.bufferedBytes == 4)
    }

    @Test func flushEndsTheFrameOnceGapMsHavePassed() {
        var framer = framer()
        let log = play(&framer, [(100, framerHex("01 03")), (104, nil), (104, framerHex("02")), (108, nil), (109, nil), (109, nil), (120, nil)])
        // 4 ms after the last read is not yet a gap; 5 ms is. Later flushes find nothing to end.
        #expect(log.events == [.frame(framerHex("01 03 02"), at: 0)])
        #expect(framer.counters.frames == 1)
        #expect(framer.bufferedBytes == 0)
    }

    @Test func exactlyGapMsBetweenReadsDoesNotSplitButFlushAtExactlyGapMsDoes() {
        // feed: the gap must exceed gapMs; flush: it must reach it.
        var fed = framer()
        #expect(play(&fed, [(0, framerHex("01")), (5, framerHex("02")), (11, framerHex("03"))]).events == [.frame(framerHex("01 02"), at: 0)])
        var flushed = framer()
        #expect(play(&flushed, [(0, framerHex("01")), (5, nil)]).events == [.frame(framerHex("01"), at: 0)])
    }

    @Test func frameSplitAcrossReadsAtEveryPoint() {
        // Every cut of one burst into two reads 1 ms apart, then silence.
        let burst = framerHex("11 03 00 6B 00 03 76 87")
        for split in 0...burst.count {
            var framer = framer()
            let log = play(&framer, [(10, Array(burst[..<split])), (11, Array(burst[split...])), (16, nil)])
            #expect(log.events == [.frame(burst, at: 0)], "split at \(split)")
        }
    }

    @Test func twoFramesArriveAsTwoBurstsWithOffsets() {
        var framer = framer()
        let log = play(&framer, [(0, framerHex("01 02 03")), (1, framerHex("04")), (20, framerHex("05 06")), (30, nil)])
        #expect(log.events == [.frame(framerHex("01 02 03 04"), at: 0), .frame(framerHex("05 06"), at: 4)])
    }

    @Test func noiseBurstsBetweenFramesAreFramesOfTheirOwnAndDoNotCorruptTheOthers() {
        var framer = framer()
        let log = play(&framer, [(0, framerHex("FF")), (10, framerHex("01 02")), (20, framerHex("EE EE")), (30, framerHex("03 04")), (40, framerHex("DD")), (50, nil)])
        #expect(log.frames == [framerHex("FF"), framerHex("01 02"), framerHex("EE EE"), framerHex("03 04"), framerHex("DD")])
        #expect(log.events.map(\.offset) == [0, 1, 3, 5, 7])
    }

    @Test func oversizeFrameIsDroppedUntilTheNextSilence() {
        var framer = framer()
        let log = play(&framer, [
            (0, framerHex("01 02")), (10, framerHex("01 02 03 04 05")), (11, framerHex("06 07 08 09")), (12, framerHex("0A")), (20, framerHex("AA BB")), (30, nil),
        ])
        #expect(log.events == [
            .frame(framerHex("01 02"), at: 0), .rejected("oversize frame (over 8 bytes)", at: 2), .frame(framerHex("AA BB"), at: 12),
        ])
        #expect(framer.counters.oversizeFrames == 1)
        #expect(framer.counters.discardedBytes == 10)
        #expect(framer.counters.resyncs == 1)
        // A single read longer than maxLength is rejected at once.
        var single = self.framer()
        #expect(play(&single, [(0, Array(repeating: 7, count: 9)), (10, framerHex("01")), (20, nil)]).events == [
            .rejected("oversize frame (over 8 bytes)", at: 0), .frame(framerHex("01"), at: 9),
        ])
    }

    @Test func exactlyMaxLengthIsKept() {
        var framer = framer()
        #expect(play(&framer, [(0, Array(repeating: 7, count: 8)), (10, nil)]).events == [.frame(Array(repeating: 7, count: 8), at: 0)])
    }

    @Test func timeGoingBackwardsOrMissingIsNoGap() {
        var framer = framer()
        #expect(play(&framer, [(100, framerHex("01")), (50, framerHex("02")), (0, nil)]).events.isEmpty)
        var untimed = self.framer()
        let log = recordFraming(&untimed, [framerHex("01"), framerHex("02")])
        #expect(log.events.isEmpty)
        #expect(untimed.bufferedBytes == 2)
    }

    @Test func emptyReadsChangeNothing() {
        var framer = framer()
        #expect(play(&framer, [(0, framerHex("01")), (3, []), (5, nil)]).events == [.frame(framerHex("01"), at: 0)])
    }

    @Test func bufferStaysBoundedThroughAMegabyteWithoutSilence() {
        var framer = SilenceGapFramer(gapMs: 5, maxLength: 64)
        // The helper feeds every read at time 0: one endless burst.
        let log = expectBoundedThroughGarbage(&framer, garbage: { UInt8(truncatingIfNeeded: $0.next()) },
            then: [], expectedFrame: nil, bound: 64)
        #expect(log.events == [.rejected("oversize frame (over 64 bytes)", at: 0)])
        var tail = FramerLog()
        feedFramer(&framer, framerHex("01 02"), at: 10 * Self.ms, into: &tail)
        flushFramer(&framer, at: 20 * Self.ms, into: &tail)
        #expect(tail.events == [.frame(framerHex("01 02"), at: 1 << 20)])
        #expect(framer.counters.oversizeFrames == 1)
        #expect(framer.counters.discardedBytes == 1 << 20)
    }

    @Test func randomInputNeverBreaksTheInvariants() {
        smokeFramer(seed: 6, interesting: [], maxFrame: 64, bound: 64, timed: true) { random in
            SilenceGapFramer(gapMs: 1 + Int(random.next() % 5), maxLength: 1 + Int(random.next() % 64))
        }
    }

    @Test func configurationIsReadAndChecked() {
        #expect(readFraming(SilenceGapFraming.self, #"{"type": "silence-gap", "gapMs": 4}"#).config == SilenceGapFraming(gapMs: 4))
        #expect(readFraming(SilenceGapFraming.self, #"{"type": "silence-gap", "gapMs": 4, "maxLength": 256}"#).config
            == SilenceGapFraming(gapMs: 4, maxLength: 256))
        #expect(readFraming(SilenceGapFraming.self, #"{"type": "silence-gap"}"#).errors == ["$.framing.gapMs: is required"])
        #expect(readFraming(SilenceGapFraming.self, #"{"type": "silence-gap", "gapMs": 10001}"#).errors
            == ["$.framing.gapMs: must be an integer from 1 to 10000"])
    }
}
