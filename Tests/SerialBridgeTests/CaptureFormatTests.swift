import SerialBridgeParsing
import Testing

@Suite("Timestamped captures")
struct CaptureFormatTests {
    @Test func recordsRoundTripByteForByte() throws {
        var file = CaptureFormat.magic
        let records = [
            CaptureFormat.Record(time: 0, bytes: [0xAA, 0xC0]),
            CaptureFormat.Record(time: 1_500_000, bytes: []),
            CaptureFormat.Record(time: 0x0102_0304_0506_0708, bytes: Array("21.5,40.2\r\n".utf8)),
        ]
        for record in records { CaptureFormat.append(record, to: &file) }
        // The second record's header, little-endian: time 1,500,000 = 0x16E360, length 0.
        #expect(file[22..<34].elementsEqual([0x60, 0xE3, 0x16, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(try CaptureFormat.records(file).get() == records)
    }

    @Test func aRecordCutShortIsReportedNotDropped() {
        var file = CaptureFormat.magic
        CaptureFormat.append(.init(time: 5, bytes: [1, 2, 3, 4]), to: &file)
        file.removeLast()
        #expect(throws: CaptureFormat.Failure(message: "record at byte 8 claims 4 bytes, file has 3")) {
            try CaptureFormat.records(file).get()
        }
        #expect(throws: CaptureFormat.Failure(message: "truncated record header at byte 8")) {
            try CaptureFormat.records(CaptureFormat.magic + [1, 2, 3]).get()
        }
    }

    @Test func rawBytesAreNotMistakenForACapture() {
        #expect(!CaptureFormat.isTimestamped(Array("SBCAP is not enough".utf8)))
    }

    @Test func silenceGapFramingReplaysFromTimestamps() throws {
        // Two bursts 50 ms apart, with a 10 ms gap rule: two frames, whatever the byte values.
        var file = CaptureFormat.magic
        CaptureFormat.append(.init(time: 0, bytes: [0x01, 0x03]), to: &file)
        CaptureFormat.append(.init(time: 2_000_000, bytes: [0x02, 0x00]), to: &file)
        CaptureFormat.append(.init(time: 52_000_000, bytes: [0x01, 0x06, 0x00]), to: &file)
        let spec = ParsingSpec(framing: SilenceGapFraming(gapMs: 10), decoding: nil, raw: true)
        var parser = DeviceParser(spec: spec)
        var frames: [[UInt8]] = []
        for record in try CaptureFormat.records(file).get() {
            record.bytes.withUnsafeBytes { bytes in
                parser.feed(bytes, at: record.time) { reading in
                    if case .bytes(let raw)? = reading.values.last { frames.append(raw) }
                }
            }
        }
        parser.flush(at: 1_000_000_000) { reading in
            if case .bytes(let raw)? = reading.values.last { frames.append(raw) }
        }
        #expect(frames == [[0x01, 0x03, 0x02, 0x00], [0x01, 0x06, 0x00]])
    }
}
