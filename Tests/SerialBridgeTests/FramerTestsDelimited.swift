import SerialBridgeParsing
import Testing

@Suite("Delimiter framing")
struct DelimiterFramerTests {
    /// STX … ETX with DLE escaping taken literally.
    func stx() -> DelimiterFramer { DelimiterFramer(start: [0x02], end: [0x03], escape: 0x10, maxLength: 8) }
    /// HDLC-like (RFC 1662): flag 7E opens and closes, 7D escapes with XOR 0x20.
    func hdlc() -> DelimiterFramer { DelimiterFramer(start: [0x7E], end: [0x7E], escape: 0x7D, escapeXOR: 0x20, maxLength: 8) }

    @Test func frameSplitAcrossReadsAtEveryPoint() {
        expectSameAtEverySplit(stx, framerHex("02 41 42 43 03 02 44 10 03 45 03"), [
            .frame(framerHex("41 42 43"), at: 0), .frame(framerHex("44 03 45"), at: 5),
        ])
        expectSameAtEverySplit(hdlc, framerHex("7E 01 7D 5E 02 7D 5D 03 7E 04 7E"), [
            .frame(framerHex("01 7E 02 7D 03"), at: 0), .frame(framerHex("04"), at: 8),
        ])
    }

    @Test func twoFramesInOneChunkArePassedWithoutCopyingUnlessEscaped() {
        let (log, framer) = recordFraming(stx, [framerHex("02 41 42 03 02 43 10 02 03 02 44 03")])
        #expect(log.frames == [framerHex("41 42"), framerHex("43 02"), framerHex("44")])
        #expect(log.framesFromChunk == [true, false, true])
        #expect(framer.counters.frames == 3)
    }

    @Test func hdlcFlagsAreSharedAndIdleFlagsAreEmptyFrames() {
        let (log, framer) = recordFraming(hdlc, [framerHex("7E 7E 7E 01 02 7E 03 7E 7E")])
        #expect(log.events == [.frame(framerHex("01 02"), at: 2), .frame(framerHex("03"), at: 5)])
        #expect(framer.counters.emptyFrames == 3)
    }

    @Test func hdlcAbortSequenceRejectsTheFrameAndTheFlagStillCounts() {
        // 7D 7E: escape directly followed by a flag aborts the frame; the flag opens the next one.
        expectSameAtEverySplit(hdlc, framerHex("7E 01 02 7D 7E 03 7E"), [
            .rejected("invalid escape sequence", at: 0), .frame(framerHex("03"), at: 4),
        ])
    }

    @Test func garbageBeforeBetweenAndAfterFramesIsReportedOncePerRun() {
        let input = framerHex("55 03 66 02 41 03 77 88 10 02 42 03 99")
        let expected: [FramerRecord] = [
            .rejected("no start delimiter", at: 0), .frame(framerHex("41"), at: 3),
            .rejected("no start delimiter", at: 6), .frame(framerHex("42"), at: 9),
            .rejected("no start delimiter", at: 12),
        ]
        expectSameAtEverySplit(stx, input, expected)
        var framer = stx()
        let log = recordFraming(&framer, [input, framerHex("02 43 03")])
        #expect(log.events == expected + [.frame(framerHex("43"), at: 13)])
        #expect(framer.counters.discardedBytes == 7)
        #expect(framer.counters.resyncs == 3)
    }

    @Test func lostEndDelimiterCostsOneFrame() {
        expectSameAtEverySplit(stx, framerHex("02 41 42 02 43 03"), [.rejected("unterminated frame", at: 0), .frame(framerHex("43"), at: 3)])
        let (_, framer) = recordFraming(stx, [framerHex("02 41 42 02 43 03")])
        #expect(framer.counters.discardedBytes == 3)
    }

    @Test func oversizeFrameIsDroppedToItsEndAndTheNextSurvives() {
        expectSameAtEverySplit(stx, framerHex("02 31 32 33 34 35 36 37 38 39 3A 3B 03 02 41 03"), [
            .rejected("oversize frame (over 8 bytes)", at: 0), .frame(framerHex("41"), at: 13),
        ])
        // Exactly maxLength bytes of content (escapes removed) are kept.
        expectSameAtEverySplit(stx, framerHex("02 31 32 33 34 35 36 37 10 03 03"), [.frame(framerHex("31 32 33 34 35 36 37 03"), at: 0)])
        let (_, framer) = recordFraming(stx, [framerHex("02 31 32 33 34 35 36 37 38 39 3A 3B 03")])
        #expect(framer.counters.oversizeFrames == 1)
        #expect(framer.counters.discardedBytes == 12)
    }

    @Test func endOnlyFramingWithAMultiByteEnd() {
        // Frames end at CR LF; a lone CR or LF is data; empty frames are skipped.
        let framer = { DelimiterFramer(end: [0x0D, 0x0A], maxLength: 8) }
        expectSameAtEverySplit(framer, framerHex("41 0D 42 0D 0A 0D 0A 43 0A 0D 0D 0A"), [
            .frame(framerHex("41 0D 42"), at: 0), .frame(framerHex("43 0A 0D"), at: 7),
        ])
        let (_, counted) = recordFraming(framer, [framerHex("41 0D 0A 0D 0A")])
        #expect(counted.counters.emptyFrames == 1)
        // A frame of exactly maxLength bytes is kept though its end delimiter arrives after it.
        expectSameAtEverySplit(framer, framerHex("31 32 33 34 35 36 37 38 0D 0A 31 32 33 34 35 36 37 38 39 0D 0A 41 0D 0A"), [
            .frame(framerHex("31 32 33 34 35 36 37 38"), at: 0), .rejected("oversize frame (over 8 bytes)", at: 10), .frame(framerHex("41"), at: 21),
        ])
    }

    @Test func selfOverlappingDelimitersAreFound() {
        // End `AA AB`: in `AA AA AB` the content is `AA`. Start `55 55 56` after `55 55 55 56`.
        expectSameAtEverySplit({ DelimiterFramer(start: [0x55, 0x55, 0x56], end: [0xAA, 0xAB]) },
            framerHex("55 55 55 56 01 AA AA AB 55 55 56 02 AA AB"), [
                .rejected("no start delimiter", at: 0), .frame(framerHex("01 AA"), at: 1), .frame(framerHex("02"), at: 8),
            ])
    }

    @Test func escapedDelimitersAreData() {
        // DLE before ETX or STX or DLE keeps it literally (xor 00); an escape never ends a frame.
        expectSameAtEverySplit(stx, framerHex("02 10 02 10 03 10 10 03"), [.frame(framerHex("02 03 10"), at: 0)])
        // With a multi-byte end, an escaped first byte breaks the delimiter.
        expectSameAtEverySplit({ DelimiterFramer(end: [0x0D, 0x0A], escape: 0x5C) }, framerHex("41 5C 0D 0A 42 0D 0A"), [
            .frame(framerHex("41 0D 0A 42"), at: 0),
        ])
    }

    @Test func offsetsPointAtEachFramesStartDelimiter() {
        let (log, _) = recordFraming(stx, [framerHex("FF 02 41"), framerHex("03 02"), framerHex("42 03")])
        #expect(log.events == [.rejected("no start delimiter", at: 0), .frame(framerHex("41"), at: 1), .frame(framerHex("42"), at: 4)])
    }

    @Test func bufferStaysBoundedThroughAMegabyteOfGarbage() {
        // Outside frames: bytes that are never STX.
        var framer = stx()
        let log = expectBoundedThroughGarbage(&framer, garbage: { UInt8(truncatingIfNeeded: $0.next()) | 0x80 },
            then: framerHex("02 41 03"), expectedFrame: framerHex("41"), bound: 8)
        #expect(log.events == [.rejected("no start delimiter", at: 0), .frame(framerHex("41"), at: 1 << 20)])
        #expect(framer.counters.discardedBytes == 1 << 20)
        // Inside one endless frame: no end delimiter for a megabyte.
        var endless = DelimiterFramer(start: [0x02], end: [0x03], escape: 0x10, maxLength: 8)
        let started = recordFraming(&endless, [[0x02]])
        #expect(started.events.isEmpty)
        _ = expectBoundedThroughGarbage(&endless, garbage: { _ in 0x41 }, then: framerHex("03 02 42 03"), expectedFrame: framerHex("42"), bound: 8)
        #expect(endless.counters.oversizeFrames == 1)
        #expect(endless.counters.discardedBytes == 1 + 1 << 20)
        // HDLC: one endless frame of escapes.
        var escapes = hdlc()
        _ = recordFraming(&escapes, [[0x7E]])
        _ = expectBoundedThroughGarbage(&escapes, garbage: { _ in 0x7D }, then: framerHex("5E 7E 01 7E"), expectedFrame: framerHex("01"), bound: 8)
    }

    @Test func randomInputNeverBreaksTheInvariants() {
        smokeFramer(seed: 3, interesting: [0x02, 0x03, 0x10, 0x7E, 0x7D, 0x5E, 0x0D, 0x0A], maxFrame: 12, bound: 14) { random in
            let maxLength = 1 + Int(random.next() % 12)
            return switch random.next() % 4 {
            case 0: DelimiterFramer(start: [0x02], end: [0x03], escape: 0x10, maxLength: maxLength)
            case 1: DelimiterFramer(start: [0x7E], end: [0x7E], escape: 0x7D, escapeXOR: 0x20, maxLength: maxLength)
            case 2: DelimiterFramer(end: [0x0D, 0x0A], maxLength: maxLength)
            default: DelimiterFramer(start: [0x02, 0x02], end: [0x0D, 0x0A], escape: 0x7D, escapeXOR: 0x20, maxLength: maxLength)
            }
        }
    }

    @Test func configurationIsReadAndChecked() {
        let good = readFraming(DelimiterFraming.self, """
            {"type": "delimited", "start": "7E", "end": "7E", "escape": {"byte": "7D", "xor": "20"}, "maxLength": 512}
            """)
        #expect(good.errors.isEmpty)
        #expect(good.config == DelimiterFraming(start: [0x7E], end: [0x7E], escape: 0x7D, escapeXOR: 0x20, maxLength: 512))
        #expect(readFraming(DelimiterFraming.self, #"{"type": "delimited", "end": "0D 0A"}"#).config == DelimiterFraming(end: [0x0D, 0x0A]))
        #expect(readFraming(DelimiterFraming.self, #"{"type": "delimited", "end": "03", "escape": {"byte": "10"}}"#).config?.escapeXOR == 0)
        #expect(readFraming(DelimiterFraming.self, #"{"type": "delimited", "start": "02"}"#).errors == ["$.framing.end: is required"])
        #expect(readFraming(DelimiterFraming.self, #"{"type": "delimited", "end": "03", "escape": {"byte": "10 10"}}"#).errors
            == ["$.framing.escape.byte: must be exactly 1 byte"])
        #expect(readFraming(DelimiterFraming.self, #"{"type": "delimited", "end": "03", "escape": {"xor": "20"}}"#).errors
            == ["$.framing.escape.byte: is required"])
        #expect(readFraming(DelimiterFraming.self, #"{"type": "delimited", "end": "03", "escape": "10"}"#).errors
            == ["$.framing.escape: must be an object, not a string"])
        #expect(readFraming(DelimiterFraming.self, #"{"type": "delimited", "end": "0D 0A", "escape": {"byte": "0A"}}"#).errors
            == ["$.framing.escape.byte: must not be a byte of start or end"])
        #expect(readFraming(DelimiterFraming.self, #"{"type": "delimited", "start": "AA", "end": "AA 55"}"#).errors
            == ["$.framing.start: must equal end or not overlap it (one appears inside the other)"])
    }
}
