import SerialBridgeParsing
import Testing

@Suite("Length-field framing")
struct LengthFieldFramerTests {
    /// A Plantower PMS5003 frame laid out as its datasheet describes it: `42 4D`, frame length
    /// 2×13+2 = 28 (big-endian), 13 big-endian data words, then the sum of all earlier bytes (0x02A0).
    /// The bytes were put together from that layout, not copied from a capture.
    static let pms5003 = framerHex("""
        42 4D 00 1C 00 05 00 08 00 08 00 05 00 08 00 08
        03 E4 01 1E 00 2E 00 00 00 00 00 00 97 00 02 A0
        """)
    static let pms5003b = framerHex("""
        42 4D 00 1C 00 06 00 09 00 0A 00 06 00 09 00 0A
        04 00 01 20 00 30 00 01 00 00 00 00 97 00 01 CA
        """)

    func pms() -> LengthFieldFramer { LengthFieldFramer(sync: [0x42, 0x4D], lengthOffset: 2, lengthWidth: 2, maxLength: 64) }

    @Test func pms5003FrameIsCutWholeAndPassesItsChecksum() throws {
        let (log, framer) = recordFraming(pms, [Self.pms5003])
        #expect(log.events == [.frame(Self.pms5003, at: 0)])
        #expect(log.framesFromChunk == [true])
        #expect(framer.counters.frames == 1)
        // The frame as delivered is what the profile's integrity check sees: sum16 over all but the last 2 bytes.
        let check = IntegrityCheck(algorithm: .sum16, position: -2)
        for frame in [Self.pms5003, Self.pms5003b] {
            #expect(frame.count == 32)
            #expect(throws: Never.self) { try frame.withUnsafeBytes { try check.verify($0).get() } }
        }
    }

    @Test func frameSplitAcrossReadsAtEveryPoint() {
        expectSameAtEverySplit(pms, Self.pms5003 + Self.pms5003b, [.frame(Self.pms5003, at: 0), .frame(Self.pms5003b, at: 32)])
    }

    @Test func twoFramesInOneChunkArePassedWithoutCopying() {
        let (log, _) = recordFraming(pms, [Self.pms5003 + Self.pms5003b])
        #expect(log.frames == [Self.pms5003, Self.pms5003b])
        #expect(log.framesFromChunk == [true, true])
    }

    @Test func garbageBeforeBetweenAndAfterFrames() {
        // `42` alone and `42 4C` look like a sync start and are not.
        let input = framerHex("00 42 FF") + Self.pms5003 + framerHex("42 4C 42") + Self.pms5003b + framerHex("4D 42")
        expectSameAtEverySplit(pms, input, [
            .rejected("no sync header", at: 0), .frame(Self.pms5003, at: 3),
            .rejected("no sync header", at: 35), .frame(Self.pms5003b, at: 38),
            .rejected("no sync header", at: 70),
        ])
        let (log, framer) = recordFraming(pms, [input, framerHex("4D 00 02 AB CD"), Self.pms5003])
        // The trailing `42` was a real sync: it starts a short frame (length 2) before the next one.
        #expect(log.frames == [Self.pms5003, Self.pms5003b, framerHex("42 4D 00 02 AB CD"), Self.pms5003])
        #expect(framer.counters.discardedBytes == 7)
        #expect(framer.counters.resyncs == 3)
    }

    @Test func badLengthIsRejectedAndTheSearchRestartsAfterTheSync() {
        // A length of 0x4D00 (over maxLength) and a length that leaves no room for the header.
        let tooLong = framerHex("42 4D 4D 00 01 02")
        let tooShort = LengthFieldFramer(sync: [0x42, 0x4D], lengthOffset: 2, lengthWidth: 2, counts: .frame, maxLength: 64)
        expectSameAtEverySplit(pms, tooLong + Self.pms5003, [.rejected("bad length 19712", at: 0), .frame(Self.pms5003, at: 6)])
        expectSameAtEverySplit({ tooShort }, framerHex("42 4D 00 03 42 4D 00 06 AA BB"), [
            .rejected("bad length 3", at: 0), .frame(framerHex("42 4D 00 06 AA BB"), at: 4),
        ])
        let (_, framer) = recordFraming(pms, [tooLong + Self.pms5003])
        #expect(framer.counters.oversizeFrames == 1)
        #expect(framer.counters.discardedBytes == 6)
        #expect(framer.counters.resyncs == 1)
    }

    @Test func goodFrameInsideABadOnesAnnouncedSpanIsNotLost() {
        // The first header announces 0x40 + 4 = 68 bytes (> maxLength 64); the real frame starts 4 bytes later.
        expectSameAtEverySplit(pms, framerHex("42 4D 00 40") + Self.pms5003, [.rejected("bad length 64", at: 0), .frame(Self.pms5003, at: 4)])
    }

    @Test func fieldWidthsByteOrdersCountsAndAdjust() {
        // 1-byte field counting the rest.
        expectSameAtEverySplit({ LengthFieldFramer(sync: [0x7E], lengthOffset: 1, lengthWidth: 1) },
            framerHex("7E 03 01 02 03 7E 00"), [.frame(framerHex("7E 03 01 02 03"), at: 0), .frame(framerHex("7E 00"), at: 5)])
        // 2-byte little-endian field counting the whole frame, after a 1-byte command.
        expectSameAtEverySplit({ LengthFieldFramer(sync: [0xAA, 0x55], lengthOffset: 3, lengthWidth: 2, endianness: .little, counts: .frame) },
            framerHex("AA 55 01 07 00 EE FF"), [.frame(framerHex("AA 55 01 07 00 EE FF"), at: 0)])
        // 4-byte big-endian field whose value also counts a 2-byte trailer that is not there (adjust -2).
        expectSameAtEverySplit({ LengthFieldFramer(sync: [0xF0], lengthOffset: 1, lengthWidth: 4, adjust: -2) },
            framerHex("F0 00 00 00 05 01 02 03"), [.frame(framerHex("F0 00 00 00 05 01 02 03"), at: 0)])
        // A 4-byte length near 2^32 is a bad length, not an overflow.
        expectSameAtEverySplit({ LengthFieldFramer(sync: [0xF0], lengthOffset: 1, lengthWidth: 4) },
            framerHex("F0 FF FF FF FF F0 00 00 00 00"), [.rejected("bad length 4294967295", at: 0), .frame(framerHex("F0 00 00 00 00"), at: 5)])
    }

    @Test func bufferStaysBoundedThroughAMegabyteOfGarbage() {
        // Sync after sync: every candidate announces 0x424D bytes, so each is a bad length.
        var framer = pms()
        var flip = false
        let log = expectBoundedThroughGarbage(&framer, garbage: { _ in
            flip.toggle()
            return flip ? 0x42 : 0x4D
        }, then: Self.pms5003, expectedFrame: Self.pms5003, bound: 63)
        #expect(log.events == [.rejected("bad length 16973", at: 0), .frame(Self.pms5003, at: 1 << 20)])
        #expect(framer.counters.discardedBytes == 1 << 20)
        // Random garbage: whatever it holds, the frame after it comes out and the buffer stays bounded.
        var random = pms()
        _ = expectBoundedThroughGarbage(&random, garbage: { UInt8(truncatingIfNeeded: $0.next()) },
            then: Array(repeating: 0, count: 64) + Self.pms5003, expectedFrame: Self.pms5003, bound: 63)
    }

    @Test func randomInputNeverBreaksTheInvariants() {
        smokeFramer(seed: 2, interesting: [0x42, 0x4D, 0x00, 0x01, 0x02, 0x03], maxFrame: 40, bound: 40) { random in
            let width = [1, 2, 4][Int(random.next() % 3)]
            return LengthFieldFramer(
                sync: random.next() % 2 == 0 ? [0x42] : [0x42, 0x4D], lengthOffset: 2, lengthWidth: width,
                endianness: random.next() % 2 == 0 ? .big : .little, counts: random.next() % 2 == 0 ? .rest : .frame,
                adjust: Int(random.next() % 5) - 2, maxLength: 6 + Int(random.next() % 35)
            )
        }
    }

    @Test func configurationIsReadAndChecked() {
        let good = readFraming(LengthFieldFraming.self, """
            {"type": "length-field", "sync": "42 4D", "length": {"offset": 2, "width": 2}, "maxLength": 32}
            """)
        #expect(good.errors.isEmpty)
        #expect(good.config == LengthFieldFraming(sync: [0x42, 0x4D], lengthOffset: 2, lengthWidth: 2, maxLength: 32))
        let full = readFraming(LengthFieldFraming.self, """
            {"type": "length-field", "sync": "AA", "length": {"offset": 3, "width": 4, "endianness": "little", "counts": "frame", "adjust": -2}}
            """)
        #expect(full.config == LengthFieldFraming(sync: [0xAA], lengthOffset: 3, lengthWidth: 4, endianness: .little, counts: .frame, adjust: -2))
        for width in ["3", "0", "\"2\"", "2.0"] {
            let bad = readFraming(LengthFieldFraming.self, #"{"type": "length-field", "sync": "AA", "length": {"offset": 1, "width": \#(width)}}"#)
            #expect(bad.config == nil)
            #expect(bad.errors == ["$.framing.length.width: must be 1, 2 or 4"], "width \(width)")
        }
        #expect(readFraming(LengthFieldFraming.self, #"{"type": "length-field", "length": {"offset": 1, "width": 1}}"#).errors
            == ["$.framing.sync: is required"])
        #expect(readFraming(LengthFieldFraming.self, #"{"type": "length-field", "sync": "AA"}"#).errors == ["$.framing.length: is required"])
        #expect(readFraming(LengthFieldFraming.self, #"{"type": "length-field", "sync": "AA", "length": 2}"#).errors
            == ["$.framing.length: must be an object, not a number"])
        #expect(readFraming(LengthFieldFraming.self, #"{"type": "length-field", "sync": "AA", "length": {"width": 1}}"#).errors
            == ["$.framing.length.offset: is required"])
        #expect(readFraming(LengthFieldFraming.self, #"{"type": "length-field", "sync": "42 4D", "length": {"offset": 1, "width": 1}}"#).errors
            == ["$.framing.length.offset: must be at least the sync length (2)"])
        #expect(readFraming(LengthFieldFraming.self, #"{"type": "length-field", "sync": "AA", "length": {"offset": 1, "width": 4}, "maxLength": 4}"#).errors
            == ["$.framing.maxLength: must be at least length.offset + length.width (5)"])
        #expect(readFraming(LengthFieldFraming.self, #"{"type": "length-field", "sync": "AA", "length": {"offset": 1, "width": 1, "counts": "all", "x": 1}}"#).errors
            == [#"$.framing.length.counts: must be one of "rest", "frame", not "all""#, "$.framing.length.x: unknown key"])
    }
}
