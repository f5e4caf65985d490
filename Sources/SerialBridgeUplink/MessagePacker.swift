import SerialBridgeProtocol
import SerialBridgeSpool

/// Turns queued frames into WebSocket messages: runs of JSON frames become one `batch` text
/// message, runs of binary records one binary batch, each at most the negotiated message size; a
/// frame larger than that on its own is cut into chunk messages. A pure function of the frames and
/// the limits, so what goes on the wire is tested byte for byte.
public struct MessagePacker: Sendable {
    /// One WebSocket message.
    public enum Outgoing: Sendable, Hashable {
        case text([UInt8])
        case binary([UInt8])
    }

    /// Gateway id, for binary batches.
    public var gateway: String
    /// Largest message the server accepts whole.
    public var maxMessageBytes: Int
    /// Size of chunk messages.
    public var chunkBytes: Int
    private var nextChunkedMessage: UInt32 = 1

    /// Creates a packer for one connection's limits.
    public init(gateway: String, maxMessageBytes: Int, chunkBytes: Int) {
        self.gateway = gateway
        self.maxMessageBytes = max(Chunking.minimumChunkBytes, maxMessageBytes)
        self.chunkBytes = max(Chunking.minimumChunkBytes, min(chunkBytes, self.maxMessageBytes))
    }

    /// The messages carrying `frames`, in order. A frame is JSON when it starts with `{`, a binary
    /// reading record when it starts with 0xB0.
    public mutating func pack(_ frames: SpoolFrames) -> [Outgoing] {
        pack(frames.bytes, frames.lazy.map(\.payloadRange))
    }

    /// ``pack(_:)-(SpoolFrames)`` for frames held separately (tests).
    public mutating func pack(_ frames: [[UInt8]]) -> [Outgoing] {
        let (bytes, ranges) = MessageCodec.laidEndToEnd(frames)
        return pack(bytes, ranges)
    }

    /// The messages carrying the frames at `ranges` of `bytes`.
    private mutating func pack(_ bytes: [UInt8], _ ranges: some Collection<Range<Int>>) -> [Outgoing] {
        var messages: [Outgoing] = []
        var run: [Range<Int>] = []
        var runBytes = 0
        var runIsBinary = false
        func finishRun() {
            guard let first = run.first else { return }
            if runIsBinary {
                messages.append(.binary(BinaryReadings.batch(gateway: gateway, records: run, of: bytes)))
            } else {
                messages.append(.text(run.count == 1 ? Array(bytes[first]) : MessageCodec.batch(encoded: run, of: bytes)))
            }
            run.removeAll(keepingCapacity: true)
            runBytes = 0
        }
        // Room for a batch's own framing: `{"type":"batch","items":[`…`]}` or kind, gateway, count.
        let overhead = 32 + gateway.utf8.count
        for frame in ranges {
            let isBinary = bytes[frame].first == BinaryReadings.recordKind
            let alone = isBinary ? frame.count + overhead : frame.count
            if alone > maxMessageBytes {
                finishRun()
                let whole = isBinary ? BinaryReadings.batch(gateway: gateway, records: [frame], of: bytes) : Array(bytes[frame])
                for chunk in Chunking.split(whole, inner: isBinary ? .binary : .text, id: nextChunkedMessage, chunkBytes: chunkBytes) {
                    messages.append(.binary(chunk))
                }
                nextChunkedMessage &+= 1
                continue
            }
            if !run.isEmpty, isBinary != runIsBinary || runBytes + frame.count + 1 + overhead > maxMessageBytes {
                finishRun()
            }
            runIsBinary = isBinary
            run.append(frame)
            runBytes += frame.count + 1
        }
        finishRun()
        return messages
    }
}
