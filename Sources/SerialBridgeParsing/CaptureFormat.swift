/// The timestamped capture format written by `serialbridge devices capture` and replayed by
/// `serialbridge profiles test` (docs/PROFILES.md, "Captures").
///
/// Layout: the 8-byte magic `53 42 43 41 50 00 01 0A` ("SBCAP", 0, version 1, LF), then records
/// of an 8-byte little-endian arrival time in nanoseconds since the capture began, a 4-byte
/// little-endian length, and that many bytes as read from the port. A file without the magic is
/// raw bytes with no timing.
public enum CaptureFormat {
    /// The file signature.
    public static let magic: [UInt8] = [0x53, 0x42, 0x43, 0x41, 0x50, 0x00, 0x01, 0x0A]
    /// Longest record accepted (a read is at most a few KiB).
    public static let maxRecordBytes = 1 << 24

    /// One read from the port.
    public struct Record: Sendable, Hashable {
        /// Arrival time, nanoseconds since the capture began.
        public var time: UInt64
        /// The bytes read.
        public var bytes: [UInt8]

        /// Creates a record.
        public init(time: UInt64, bytes: [UInt8]) {
            self.time = time
            self.bytes = bytes
        }
    }

    /// Why a capture could not be read.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, with the file offset.
        public var message: String
        /// Creates a failure.
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    /// True when `bytes` start with the magic.
    public static func isTimestamped(_ bytes: [UInt8]) -> Bool {
        bytes.count >= magic.count && bytes[0..<magic.count].elementsEqual(magic)
    }

    /// Appends one record's encoding to `output` (the caller writes ``magic`` first).
    public static func append(_ record: Record, to output: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { output.append(UInt8(truncatingIfNeeded: record.time >> UInt64(shift))) }
        let length = UInt32(truncatingIfNeeded: record.bytes.count)
        for shift in stride(from: 0, to: 32, by: 8) { output.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        output.append(contentsOf: record.bytes)
    }

    /// Reads a whole timestamped capture. A record cut short at the end of the file (a capture
    /// killed mid-write) is reported, not silently dropped.
    public static func records(_ bytes: [UInt8]) -> Result<[Record], Failure> {
        guard isTimestamped(bytes) else { return .failure(Failure(message: "not a timestamped capture (no SBCAP signature)")) }
        var records: [Record] = []
        var index = magic.count
        while index < bytes.count {
            guard index + 12 <= bytes.count else {
                return .failure(Failure(message: "truncated record header at byte \(index)"))
            }
            var time: UInt64 = 0
            for offset in (0..<8).reversed() { time = time << 8 | UInt64(bytes[index + offset]) }
            var length: UInt32 = 0
            for offset in (0..<4).reversed() { length = length << 8 | UInt32(bytes[index + 8 + offset]) }
            let start = index + 12
            guard length <= maxRecordBytes, start + Int(length) <= bytes.count else {
                return .failure(Failure(message: "record at byte \(index) claims \(length) bytes, file has \(bytes.count - start)"))
            }
            records.append(Record(time: time, bytes: Array(bytes[start..<start + Int(length)])))
            index = start + Int(length)
        }
        return .success(records)
    }
}
