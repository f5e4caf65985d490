import SerialBridgeProtocol
import SerialBridgeSimulator
import SerialBridgeUplink
import Testing

/// Binary readings, chunks and the message packer, against the vectors that
/// scripts/fixtures/make-protocol-vectors.py writes from docs/PROTOCOL.md independently.
@Suite("Wire protocol v1: binary readings, chunks, batching")
struct ProtocolBinaryTests {
    static var readings: [Reading] {
        ["reading", "reading-types", "reading-flags"].compactMap { name in
            if case .reading(let reading)? = ProtocolVectorTests.cases.first(where: { $0.0 == name })?.1 { return reading }
            return nil
        }
    }

    @Test func binaryBatchMatchesTheVectorBothWays() throws {
        let expected = try vectorBytes("binary-batch")
        #expect(BinaryReadings.batch(gateway: "gw-1", records: Self.readings.map(BinaryReadings.record)) == expected)
        #expect(try BinaryReadings.decodeBatch(expected) == Self.readings)
        // The gateway's fast path writes the same records.
        let fast = Self.readings.map { reading in
            ReadingEncoder(
                gateway: reading.gateway, device: reading.device, profile: reading.profile,
                fields: reading.values.map { ($0.name, $0.unit) }, format: .binary
            ).encode(id: reading.id, timestamp: reading.timestamp, values: reading.values.map(\.value), outOfRange: reading.outOfRange)
        }
        #expect(BinaryReadings.batch(gateway: "gw-1", records: fast) == expected)
        let json = try vectorBytes("reading")
        #expect(expected.count < json.count * 3, "three binary readings (\(expected.count) bytes) vs one JSON reading (\(json.count))")
    }

    @Test func malformedBinaryBatchesGetSpecificErrors() throws {
        let good = try vectorBytes("binary-batch")
        #expect(throws: MessageDecodingError("batch: 1 bytes after the last record")) { try BinaryReadings.decodeBatch(good + [0]) }
        #expect(throws: MessageDecodingError.self) { try BinaryReadings.decodeBatch(Array(good.dropLast())) }
        var badTag = good
        // First value tag of record 0: after B1, "gw-1", count, B0, epoch, seq, "sensor-1", profile, ts, count, "temperature".
        let tagOffset = 1 + 5 + 1 + 1 + 1 + 1 + 9 + 18 + 6 + 1 + 12
        badTag[tagOffset] = 9
        #expect(throws: MessageDecodingError("record 0.temperature: unknown value tag 9")) { try BinaryReadings.decodeBatch(badTag) }
        var random = SplitMix64(seed: 7)
        for _ in 0..<10_000 {
            var mutated = good
            for _ in 0..<3 { mutated[Int(random.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: random.next()) }
            _ = try? BinaryReadings.decodeBatch(mutated)
        }
    }

    @Test func chunksMatchTheVectorsAndReassemble() throws {
        let message = try vectorBytes("reading")
        let chunks = Chunking.split(message, inner: .text, id: 7, chunkBytes: 100)
        #expect(chunks.count == 3)
        for (index, chunk) in chunks.enumerated() {
            #expect(chunk == (try vectorBytes("chunk-\(index + 1)-of-3")))
        }
        var reassembler = ChunkReassembler()
        #expect(try reassembler.receive(chunks[0], at: 1) == nil)
        #expect(try reassembler.receive(chunks[1], at: 2) == nil)
        let whole = try #require(try reassembler.receive(chunks[2], at: 3))
        #expect(whole.bytes == message && whole.inner == .text)
        #expect(reassembler.bufferedBytes == 0)
    }

    @Test func aCorruptedChunkIsRejectedAndForgotten() throws {
        let message = try vectorBytes("reading")
        var chunks = Chunking.split(message, inner: .text, id: 7, chunkBytes: 100)
        chunks[1][40] ^= 0x20
        var reassembler = ChunkReassembler()
        _ = try reassembler.receive(chunks[0], at: 1)
        _ = try reassembler.receive(chunks[1], at: 2)
        #expect(throws: ChunkReassembler.Failure.checksumMismatch(id: 7)) { _ = try reassembler.receive(chunks[2], at: 3) }
        #expect(reassembler.bufferedBytes == 0)
        // Out of order, contradicting headers, over the limits.
        var fresh = ChunkReassembler(limits: .init(maxMessageBytes: 150, maxPartialMessages: 1, maxBufferedBytes: 1000, timeout: 10))
        #expect(throws: ChunkReassembler.Failure.self) { _ = try fresh.receive(chunks[1], at: 1) }
        #expect(throws: ChunkReassembler.Failure.tooLarge("message 7 announces 213 bytes, the limit is 150")) { _ = try fresh.receive(chunks[0], at: 1) }
        let small = Chunking.split(Array(repeating: 1, count: 120), inner: .binary, id: 1, chunkBytes: 100)
        let other = Chunking.split(Array(repeating: 2, count: 120), inner: .binary, id: 2, chunkBytes: 100)
        #expect(try fresh.receive(small[0], at: 1) == nil)
        #expect(throws: ChunkReassembler.Failure.tooLarge("more than 1 chunked messages in flight")) { _ = try fresh.receive(other[0], at: 2) }
        // An incomplete message is dropped after the timeout (explicit instants, no clock).
        fresh.expire(at: 11)
        #expect(fresh.expired == 1 && fresh.bufferedBytes == 0)
        #expect(try fresh.receive(other[0], at: 12) == nil)
    }

    @Test func randomMessagesSurviveThePackerAndReassemblerDownToAOneKiBLimit() throws {
        var random = SplitMix64(seed: 42)
        for _ in 0..<200 {
            let limit = 1024 + Int(random.next() % 8192)
            var packer = MessagePacker(gateway: "gw-1", maxMessageBytes: limit, chunkBytes: limit)
            let frames: [[UInt8]] = (0..<(1 + Int(random.next() % 8))).map { _ in
                let size = Int(random.next() % UInt64(limit * 3))
                return [UInt8(ascii: "{")] + (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            var reassembler = ChunkReassembler()
            var received: [[UInt8]] = []
            for message in packer.pack(frames) {
                switch message {
                case .text(let bytes):
                    #expect(bytes.count <= limit)
                    received.append(bytes)
                case .binary(let bytes):
                    #expect(bytes.count <= limit)
                    if let whole = try reassembler.receive(bytes, at: 0) { received.append(whole.bytes) }
                }
            }
            // Whole frames came through intact: alone, or inside a batch's items.
            let joined = received.flatMap { $0 }
            for frame in frames {
                #expect(joined.firstRange(of: frame) != nil)
            }
        }
    }

    @Test func tenMiBThroughAFourKiBLimitIntact() throws {
        var random = SplitMix64(seed: 10)
        let payload = (0..<(10 << 20)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let reading = Reading(
            gateway: "gw-1", id: ReadingID(epoch: 1, sequence: 1), device: "cam", profile: "raw", timestamp: 1,
            values: [NamedValue(name: "raw", value: .bytes(payload))]
        )
        var packer = MessagePacker(gateway: "gw-1", maxMessageBytes: 4096, chunkBytes: 4096)
        let messages = packer.pack([BinaryReadings.record(reading)])
        #expect(messages.count == (10 << 20) / (4096 - Chunking.headerBytes) + 1)
        var reassembler = ChunkReassembler()
        var whole: (bytes: [UInt8], inner: Chunking.Inner)?
        for case .binary(let chunk) in messages {
            #expect(chunk.count <= 4096)
            whole = try reassembler.receive(chunk, at: 0) ?? whole
        }
        let assembled = try #require(whole)
        #expect(assembled.inner == .binary)
        #expect(try BinaryReadings.decodeBatch(assembled.bytes) == [reading])
    }

    @Test func runsOfFramesBecomeOneBatchEach() throws {
        let json = try vectorBytes("reading")
        let binary = BinaryReadings.record(Self.readings[0])
        var packer = MessagePacker(gateway: "gw-1", maxMessageBytes: 65_536, chunkBytes: 65_536)
        let messages = packer.pack([json, json, binary, binary, json])
        #expect(messages == [
            .text(MessageCodec.batch(encoded: [json, json])),
            .binary(BinaryReadings.batch(gateway: "gw-1", records: [binary, binary])),
            .text(json),
        ])
    }
}
