import SerialBridgeParsing
import Testing

@Suite("Line framing")
struct LineFramerTests {
    /// Feeds chunks and returns the frames as strings.
    func frames(_ chunks: [String], framer: inout LineFramer) -> [String] {
        var out: [String] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { bytes in
                framer.feed(bytes) { event in
                    if case .frame(let frame, _) = event { out.append(String(decoding: frame, as: UTF8.self)) }
                }
            }
        }
        return out
    }

    @Test func lineSplitAcrossTwoReads() {
        var framer = LineFramer()
        #expect(frames(["21.5,4", "0.2\r\n"], framer: &framer) == ["21.5,40.2"])
        #expect(framer.counters.frames == 1)
    }

    @Test func crlfAndLfBothEndALine() {
        var framer = LineFramer()
        #expect(frames(["a\r\nb\nc\r\n"], framer: &framer) == ["a", "b", "c"])
    }

    @Test func carriageReturnSplitFromItsNewline() {
        var framer = LineFramer()
        #expect(frames(["21.5,40.2\r", "\n22,41\r\n"], framer: &framer) == ["21.5,40.2", "22,41"])
    }

    @Test func emptyLinesAreSkippedAndCounted() {
        var framer = LineFramer()
        #expect(frames(["\r\n\n1,2\n\r\n"], framer: &framer) == ["1,2"])
        #expect(framer.counters.emptyFrames == 3)
    }

    @Test func overlongLineIsDiscardedCountedAndTheNextLineSurvives() {
        var framer = LineFramer(maxLength: 8)
        let long = String(repeating: "x", count: 50)
        #expect(frames(["1,2\n", long, long, "\n3,4\n"], framer: &framer) == ["1,2", "3,4"])
        #expect(framer.counters.oversizeFrames == 1)
        #expect(framer.counters.discardedBytes >= 100)
    }

    @Test func overlongLineWithinOneChunk() {
        var framer = LineFramer(maxLength: 4)
        #expect(frames(["123456789\nok\n"], framer: &framer) == ["ok"])
        #expect(framer.counters.oversizeFrames == 1)
    }

    @Test func bufferStaysBoundedWithoutAnyTerminator() {
        var framer = LineFramer(maxLength: 16)
        for _ in 0..<10_000 { _ = frames([String(repeating: "z", count: 100)], framer: &framer) }
        #expect(frames(["\nfine\n"], framer: &framer) == ["fine"])
        #expect(framer.counters.oversizeFrames == 1)
        #expect(framer.counters.discardedBytes == 1_000_000)
    }

    @Test func lineOfExactlyMaxLengthIsKept() {
        var framer = LineFramer(maxLength: 4)
        #expect(frames(["abcd\r\n", "abcde\n"], framer: &framer) == ["abcd"])
    }

    @Test func framesAndRejectionsCarryTheirStreamOffsets() {
        var framer = LineFramer(maxLength: 4)
        var events: [String] = []
        for chunk in ["ab\n", "toolong", "\ncd\r\n"] {
            Array(chunk.utf8).withUnsafeBytes { bytes in
                framer.feed(bytes) { event in
                    switch event {
                    case .frame(let frame, let offset): events.append("\(offset):\(String(decoding: frame, as: UTF8.self))")
                    case .rejected(let reason, let offset): events.append("\(offset):\(reason)")
                    }
                }
            }
        }
        #expect(events == ["0:ab", "3:oversize frame (over 4 bytes)", "11:cd"])
    }

    @Test func multiByteTerminatorSplitAcrossReads() {
        var framer = LineFramer(terminator: Array("<END>".utf8), maxLength: 64)
        #expect(frames(["one<EN", "D>two<E<END>"], framer: &framer) == ["one", "two<E"])
    }
}
