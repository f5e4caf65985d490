import SerialBridgeParsing
import Testing

@Suite("SLIP framing")
struct SLIPFramerTests {
    func slip() -> SLIPFramer { SLIPFramer(maxLength: 8) }

    @Test func specialCharactersAreThoseOfRFC1055() {
        // RFC 1055 defines them in octal: END 0300, ESC 0333, ESC_END 0334, ESC_ESC 0335.
        #expect(SLIPFramer.end == 0o300)
        #expect(SLIPFramer.escape == 0o333)
        #expect(SLIPFramer.escapedEnd == 0o334)
        #expect(SLIPFramer.escapedEscape == 0o335)
    }

    @Test func escapesAreDecodedAsRFC1055Sends() {
        // A packet `01 C0 02 DB 03` goes on the line as `C0 01 DB DC 02 DB DD 03 C0` (with the
        // recommended leading END): END becomes ESC ESC_END, ESC becomes ESC ESC_ESC.
        expectSameAtEverySplit(slip, framerHex("C0 01 DB DC 02 DB DD 03 C0"), [.frame(framerHex("01 C0 02 DB 03"), at: 1)])
        let (_, framer) = recordFraming(slip, [framerHex("C0 01 DB DC 02 DB DD 03 C0")])
        #expect(framer.counters.emptyFrames == 1)
        #expect(framer.counters.frames == 1)
    }

    @Test func frameSplitAcrossReadsAtEveryPoint() {
        expectSameAtEverySplit(slip, framerHex("C0 41 42 DB DD C0 C0 DB DC 43 C0"), [
            .frame(framerHex("41 42 DB"), at: 1), .frame(framerHex("C0 43"), at: 7),
        ])
    }

    @Test func twoFramesInOneChunkArePassedWithoutCopyingUnlessEscaped() {
        let (log, framer) = recordFraming(slip, [framerHex("41 42 C0 43 DB DC C0 44 C0")])
        #expect(log.events == [.frame(framerHex("41 42"), at: 0), .frame(framerHex("43 C0"), at: 3), .frame(framerHex("44"), at: 7)])
        #expect(log.framesFromChunk == [true, false, true])
        #expect(framer.counters.emptyFrames == 0)
    }

    @Test func emptyFramesAreSkippedAndCounted() {
        let (log, framer) = recordFraming(slip, [framerHex("C0 C0 C0 41 C0 C0")])
        #expect(log.events == [.frame(framerHex("41"), at: 3)])
        // Every END that closes nothing: the three leading ones and the last.
        #expect(framer.counters.emptyFrames == 4)
    }

    @Test func invalidEscapeRejectsTheFrameAndTheNextSurvives() {
        // ESC followed by a byte other than ESC_END/ESC_ESC, and ESC directly before END.
        expectSameAtEverySplit(slip, framerHex("C0 41 DB 41 42 C0 43 C0 44 DB C0 45 C0"), [
            .rejected("invalid escape sequence", at: 1), .frame(framerHex("43"), at: 6),
            .rejected("invalid escape sequence", at: 8), .frame(framerHex("45"), at: 11),
        ])
        let (_, framer) = recordFraming(slip, [framerHex("C0 41 DB 41 42 C0 43 C0 44 DB C0 45 C0")])
        #expect(framer.counters.discardedBytes == 6)
        #expect(framer.counters.resyncs == 2)
    }

    @Test func garbageBeforeBetweenAndAfterFrames() {
        // SLIP has no start marker: noise between two ENDs is a frame unless it breaks the escape
        // rules (then it is rejected); either way the frames around it are intact.
        let input = framerHex("DB 00 C0 41 C0 55 66 C0 DB 99 C0 42 C0 DB")
        expectSameAtEverySplit(slip, input, [
            .rejected("invalid escape sequence", at: 0), .frame(framerHex("41"), at: 3), .frame(framerHex("55 66"), at: 5),
            .rejected("invalid escape sequence", at: 8), .frame(framerHex("42"), at: 11),
        ])
        var framer = slip()
        let log = recordFraming(&framer, [input, framerHex("C0 43 C0")])
        #expect(log.events.suffix(2) == [.rejected("invalid escape sequence", at: 13), .frame(framerHex("43"), at: 15)])
    }

    @Test func oversizeFrameIsDroppedToTheNextEnd() {
        expectSameAtEverySplit(slip, framerHex("C0 01 02 03 04 05 06 07 08 09 C0 41 C0"), [
            .rejected("oversize frame (over 8 bytes)", at: 1), .frame(framerHex("41"), at: 11),
        ])
        // Escapes count once decoded: 8 decoded bytes from 16 sent are kept.
        expectSameAtEverySplit(slip, [0xC0] + Array(repeating: framerHex("DB DC"), count: 8).flatMap { $0 } + [0xC0], [
            .frame(Array(repeating: 0xC0, count: 8), at: 1),
        ])
        let (_, framer) = recordFraming(slip, [framerHex("C0 01 02 03 04 05 06 07 08 09 C0")])
        #expect(framer.counters.oversizeFrames == 1)
        #expect(framer.counters.discardedBytes == 9)
    }

    @Test func bufferStaysBoundedThroughAMegabyteOfGarbage() {
        var framer = slip()
        let log = expectBoundedThroughGarbage(&framer, garbage: { random in
            let byte = UInt8(truncatingIfNeeded: random.next())
            return byte == 0xC0 ? 0x00 : byte
        }, then: framerHex("C0 41 C0"), expectedFrame: framerHex("41"), bound: 8)
        #expect(log.events.count == 2)
        #expect(framer.counters.discardedBytes == 1 << 20)
    }

    @Test func randomInputNeverBreaksTheInvariants() {
        smokeFramer(seed: 4, interesting: [0xC0, 0xDB, 0xDC, 0xDD], maxFrame: 16, bound: 16) { random in
            SLIPFramer(maxLength: 1 + Int(random.next() % 16))
        }
    }

    @Test func configurationIsReadAndChecked() {
        #expect(readFraming(SLIPFraming.self, #"{"type": "slip"}"#).config == SLIPFraming(maxLength: 1024))
        #expect(readFraming(SLIPFraming.self, #"{"type": "slip", "maxLength": 296}"#).config == SLIPFraming(maxLength: 296))
        #expect(readFraming(SLIPFraming.self, #"{"type": "slip", "maxLength": "296"}"#).errors
            == ["$.framing.maxLength: must be an integer from 1 to 1048576, not a string"])
    }
}
