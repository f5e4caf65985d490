import SerialBridgeJSON

/// `framing.type = "modbus-rtu"`: Modbus RTU responses, as a master (the gateway) reads them.
///
/// A frame is `unit, function, …, CRC-16/MODBUS (low byte first)`; its length follows from the
/// function code: a byte count at index 2 for reads (functions 1–4, 17, 23), 8 bytes for write
/// echoes (5, 6, 15, 16), 5 bytes for an exception (function | 0x80). A candidate is a frame only
/// when its CRC holds, so the framer resynchronises by itself after noise: a failed candidate is
/// reported (`crc mismatch`) and the search restarts one byte later.
///
/// The standard's second rule — a frame never contains a silence of 3.5 characters — applies when
/// bytes carry arrival times: the held start of a frame is dropped (`silence inside a frame`) when
/// the next bytes come more than ``ModbusRTUFraming/gapNanoseconds`` later. On a pseudo-terminal,
/// which moves bytes at memory speed, the length and CRC rules carry the whole load.
public struct ModbusRTUFramer: Framer {
    /// The longest RTU frame (Modbus application protocol: 256 bytes).
    public static let maxFrameLength = 256

    /// Silence that ends a partial frame, in nanoseconds; 0 disables the rule.
    public let gapNanoseconds: UInt64
    /// What the framer has seen so far.
    public var counters: FramerCounters { hunter.counters }

    private var hunter = SyncHunter(rule: Rule())
    private var lastByteTime: UInt64 = 0

    /// Creates a framer; `gapNanoseconds` 0 disables the silence rule.
    public init(gapNanoseconds: UInt64 = 0) {
        self.gapNanoseconds = gapNanoseconds
    }

    /// Bytes held for a frame that spans reads.
    public var bufferedBytes: Int { hunter.heldCount }

    /// Feeds the next bytes that arrived at `time` (monotonic nanoseconds; 0 when unknown).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: UInt64, _ sink: (FramerEvent) -> Void) {
        dropStalePartial(at: time, sink)
        if time != 0 { lastByteTime = time }
        hunter.feed(bytes, sink)
    }

    /// Drops a partial frame once the line has been silent longer than the gap.
    public mutating func flush(at time: UInt64, _ sink: (FramerEvent) -> Void) {
        dropStalePartial(at: time, sink)
    }

    private mutating func dropStalePartial(at time: UInt64, _ sink: (FramerEvent) -> Void) {
        guard gapNanoseconds > 0, time != 0, lastByteTime != 0, time > lastByteTime,
              time - lastByteTime > gapNanoseconds else { return }
        hunter.discardHeld(reason: "silence inside a frame", sink)
    }

    /// Length and CRC rules of RTU responses.
    struct Rule: SyncFramingRule {
        var maxFrameLength: Int { ModbusRTUFramer.maxFrameLength }

        func judge<Bytes: FramingBytes>(_ bytes: Bytes, at start: Int) -> CandidateJudgement {
            let available = bytes.count - start
            guard available >= 2 else { return available == 1 && bytes[start] > 247 ? .noSync : .undecided }
            guard bytes[start] <= 247 else { return .noSync }
            let function = bytes[start + 1]
            let length: Int
            switch function {
            case 1, 2, 3, 4, 17, 23:
                guard available >= 3 else { return .undecided }
                let count = Int(bytes[start + 2])
                if (function == 3 || function == 4 || function == 23) && count % 2 != 0 {
                    return .badLength(value: count, oversize: false)
                }
                length = 5 + count
            case 5, 6, 15, 16:
                length = 8
            case 0x81...0x90, 0x97:
                length = 5
            default:
                return .noSync
            }
            guard length <= maxFrameLength else { return .badLength(value: length, oversize: true) }
            guard available >= length else { return .undecided }
            var crc: UInt16 = 0xFFFF
            for index in start..<start + length - 2 {
                crc = (crc >> 8) ^ CRCTables.modbus[Int((crc ^ UInt16(bytes[index])) & 0xFF)]
            }
            let sent = UInt16(bytes[start + length - 2]) | UInt16(bytes[start + length - 1]) << 8
            return crc == sent ? .frame(length: length) : .checksumMismatch
        }
    }
}

/// Settings of ``ModbusRTUFramer``: `silenceGapUs` (optional, 0–1,000,000; default 3.5 characters
/// at the profile's baud rate, 1750 µs above 19,200 baud, as the Modbus serial line spec says).
public struct ModbusRTUFraming: FramerConfiguration, Hashable {
    /// `"modbus-rtu"`.
    public static let type = "modbus-rtu"
    /// Silence that ends a partial frame, in microseconds; nil until the profile's baud rate fills it in.
    public var silenceGapMicroseconds: Int?

    /// Creates settings.
    public init(silenceGapMicroseconds: Int? = nil) {
        self.silenceGapMicroseconds = silenceGapMicroseconds
    }

    /// Reads `silenceGapUs`.
    public init?(reading section: inout JSONObjectReader) {
        let gap = section.integer("silenceGapUs", in: 0...1_000_000)
        guard section.isClean else { return nil }
        self.init(silenceGapMicroseconds: gap)
    }

    /// The 3.5-character gap at `baudRate` with 11 bits per character (start, 8 data, parity or
    /// second stop, stop), fixed at 1750 µs above 19,200 baud.
    public static func standardGapMicroseconds(baudRate: Int) -> Int {
        guard baudRate > 0, baudRate <= 19_200 else { return 1750 }
        return (38_500_000 + baudRate - 1) / baudRate
    }

    /// A fresh ``ModbusRTUFramer``.
    public func makeFramer() -> any Framer {
        ModbusRTUFramer(gapNanoseconds: UInt64(max(0, silenceGapMicroseconds ?? 0)) * 1000)
    }
}
