import SerialBridgeParsing
import Testing

@Suite("COBS framing")
struct COBSFramerTests {
    func cobs(_ maxLength: Int = 1024) -> COBSFramer { COBSFramer(maxLength: maxLength) }

    /// The encoding examples of Wikipedia's "Consistent Overhead Byte Stuffing" article (from
    /// Cheshire and Baker's paper), each followed by its 00 separator: (decoded, encoded).
    static let examples: [(decoded: [UInt8], encoded: [UInt8])] = [
        (framerHex("00"), framerHex("01 01 00")),
        (framerHex("00 00"), framerHex("01 01 01 00")),
        (framerHex("00 11 00"), framerHex("01 02 11 01 00")),
        (framerHex("11 22 00 33"), framerHex("03 11 22 02 33 00")),
        (framerHex("11 22 33 44"), framerHex("05 11 22 33 44 00")),
        (framerHex("11 00 00 00"), framerHex("02 11 01 01 01 00")),
        // 01 02 … FE (254 bytes) → FF 01 02 … FE 00
        (Array(0x01...0xFE), [0xFF] + Array(0x01...0xFE) + [0x00]),
        // 00 01 02 … FE → 01 FF 01 02 … FE 00
        ([0x00] + Array(0x01...0xFE), [0x01, 0xFF] + Array(0x01...0xFE) + [0x00]),
        // 01 02 … FE FF → FF 01 02 … FE 02 FF 00
        (Array(0x01...0xFF), [0xFF] + Array(0x01...0xFE) + [0x02, 0xFF, 0x00]),
        // 02 03 … FF 00 → FF 02 03 … FF 01 01 00
        (Array(0x02...0xFF) + [0x00], [0xFF] + Array(0x02...0xFF) + [0x01, 0x01, 0x00]),
        // 03 04 … FF 00 01 → FE 03 04 … FF 02 01 00
        (Array(0x03...0xFF) + [0x00, 0x01], [0xFE] + Array(0x03...0xFF) + [0x02, 0x01, 0x00]),
    ]

    @Test func decodesThePublishedExamples() {
        for (decoded, encoded) in Self.examples {
            let (log, framer) = recordFraming({ cobs() }, [encoded])
            #expect(log.events == [.frame(decoded, at: 0)], "\(framerHexString(encoded))")
            #expect(framer.counters.frames == 1)
        }
        // All of them back to back, cut at every point.
        let stream = Self.examples.flatMap(\.encoded)
        var offset: UInt64 = 0
        var expected: [FramerRecord] = []
        for (decoded, encoded) in Self.examples {
            expected.append(.frame(decoded, at: offset))
            offset += UInt64(encoded.count)
        }
        expectSameAtEverySplit({ cobs() }, stream, expected)
    }

    @Test func frameSplitAcrossReadsAtEveryPoint() {
        expectSameAtEverySplit({ cobs() }, framerHex("03 11 22 02 33 00 05 11 22 33 44 00"), [
            .frame(framerHex("11 22 00 33"), at: 0), .frame(framerHex("11 22 33 44"), at: 6),
        ])
    }

    @Test func singleBlockFramesInsideAChunkArePassedWithoutCopying() {
        let (log, _) = recordFraming({ cobs() }, [framerHex("05 11 22 33 44 00 03 11 22 02 33 00 02 55 00")])
        #expect(log.frames == [framerHex("11 22 33 44"), framerHex("11 22 00 33"), framerHex("55")])
        #expect(log.framesFromChunk == [true, false, true])
    }

    @Test func emptyFramesAreSkippedAndCounted() {
        // `00 00` (nothing between separators) and `01 00` (the encoding of an empty packet).
        let (log, framer) = recordFraming({ cobs() }, [framerHex("00 00 01 00 02 41 00")])
        #expect(log.events == [.frame(framerHex("41"), at: 4)])
        #expect(framer.counters.emptyFrames == 3)
    }

    @Test func codeBytePointingPastTheFrameEndRejectsIt() {
        // 05 promises 4 data bytes but the separator comes after 2 (a zero inside the encoded frame).
        expectSameAtEverySplit({ cobs() }, framerHex("05 11 22 00 03 11 22 00"), [
            .rejected("invalid COBS encoding", at: 0), .frame(framerHex("11 22"), at: 4),
        ])
        // In a later block too.
        expectSameAtEverySplit({ cobs() }, framerHex("02 11 04 22 00 02 33 00"), [
            .rejected("invalid COBS encoding", at: 0), .frame(framerHex("33"), at: 5),
        ])
        let (_, framer) = recordFraming({ cobs() }, [framerHex("05 11 22 00 03 11 22 00")])
        #expect(framer.counters.discardedBytes == 3)
        #expect(framer.counters.resyncs == 1)
    }

    @Test func garbageBeforeBetweenAndAfterFrames() {
        // A framer started mid-frame sees the tail of one: here it does not decode and is rejected.
        let input = framerHex("22 33 07 44 00 02 41 00 09 01 00 02 42 00 0A 0B")
        expectSameAtEverySplit({ cobs() }, input, [
            .rejected("invalid COBS encoding", at: 0), .frame(framerHex("41"), at: 5),
            .rejected("invalid COBS encoding", at: 8), .frame(framerHex("42"), at: 11),
        ])
        var framer = cobs()
        let log = recordFraming(&framer, [input, framerHex("00 02 43 00")])
        #expect(log.events.suffix(2) == [.rejected("invalid COBS encoding", at: 14), .frame(framerHex("43"), at: 17)])
        #expect(framer.counters.discardedBytes == 4 + 2 + 2)
    }

    @Test func oversizeFrameIsDroppedToTheNextSeparator() {
        // maxLength 4: `11 22 33 44` fits; `11 22 33 44 00` (5 decoded bytes) does not.
        expectSameAtEverySplit({ cobs(4) }, framerHex("05 11 22 33 44 00 05 11 22 33 44 01 00 02 41 00"), [
            .frame(framerHex("11 22 33 44"), at: 0), .rejected("oversize frame (over 4 bytes)", at: 6), .frame(framerHex("41"), at: 13),
        ])
        expectSameAtEverySplit({ cobs(4) }, framerHex("06 11 22 33 44 55 00 02 41 00"), [
            .rejected("oversize frame (over 4 bytes)", at: 0), .frame(framerHex("41"), at: 7),
        ])
    }

    @Test func bufferStaysBoundedThroughAMegabyteOfGarbage() {
        var framer = cobs(64)
        let log = expectBoundedThroughGarbage(&framer, garbage: { 1 | UInt8(truncatingIfNeeded: $0.next()) },
            then: framerHex("00 02 41 00"), expectedFrame: framerHex("41"), bound: 64)
        #expect(log.events.count == 2)
        #expect(framer.counters.oversizeFrames == 1)
        #expect(framer.counters.discardedBytes == 1 << 20)
    }

    @Test func randomInputNeverBreaksTheInvariants() {
        smokeFramer(seed: 5, interesting: [0x00, 0x01, 0x02, 0x03, 0xFF], maxFrame: 300, bound: 300) { random in
            COBSFramer(maxLength: random.next() % 2 == 0 ? 300 : 1 + Int(random.next() % 8))
        }
    }

    @Test func randomPacketsComeBackWhateverTheReads() {
        // Packets encoded by a straightforward encoder written from the algorithm's description,
        // fed in random reads; the decoded frames must be the packets (empty ones are skipped).
        var random = FramerSmokeGenerator(seed: 55)
        for _ in 0..<500 {
            let packets: [[UInt8]] = (0..<1 + Int(random.next() % 5)).map { _ in
                (0..<1 + Int(random.next() % 600)).map { _ in random.next() % 4 == 0 ? 0 : UInt8(truncatingIfNeeded: random.next()) }
            }
            let stream: [UInt8] = packets.flatMap { Self.encode($0) + [0] }
            var framer = cobs(600)
            var chunks: [[UInt8]] = []
            var index = 0
            while index < stream.count {
                let size = min(stream.count - index, 1 + Int(random.next() % 300))
                chunks.append(Array(stream[index..<index + size]))
                index += size
            }
            let log = recordFraming(&framer, chunks)
            #expect(log.frames == packets)
            #expect(log.rejections.isEmpty)
        }
    }

    @Test func configurationIsReadAndChecked() {
        #expect(readFraming(COBSFraming.self, #"{"type": "cobs"}"#).config == COBSFraming(maxLength: 1024))
        #expect(readFraming(COBSFraming.self, #"{"type": "cobs", "maxLength": 254}"#).config == COBSFraming(maxLength: 254))
        #expect(readFraming(COBSFraming.self, #"{"type": "cobs", "maxLength": -1}"#).errors
            == ["$.framing.maxLength: must be an integer from 1 to 1048576"])
    }

    /// COBS encoding, straight from the description: each block is a code byte (its length + 1)
    /// and up to 254 non-zero bytes; a block shorter than 254 stands for its bytes plus a zero.
    static func encode(_ packet: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0]
        var codeIndex = 0
        var code: UInt8 = 1
        for byte in packet {
            if byte == 0 {
                out[codeIndex] = code
                codeIndex = out.count
                out.append(0)
                code = 1
            } else {
                out.append(byte)
                code += 1
                if code == 0xFF {
                    out[codeIndex] = code
                    codeIndex = out.count
                    out.append(0)
                    code = 1
                }
            }
        }
        out[codeIndex] = code
        return out
    }
}
