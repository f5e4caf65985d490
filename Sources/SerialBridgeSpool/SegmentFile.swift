/// A segment file's name and header. Segments are `NNNNNNNN.seg` in the spool folder, numbered in
/// the order they were started; each holds the records of one epoch, with consecutive sequence
/// numbers, after a 24-byte header (little-endian):
///
/// ```
/// 0  magic    8 bytes  "SBSPOOL\n"
/// 8  version  u32      1
/// 12 epoch    i64      the epoch of every record in the file
/// 20 crc      u32      CRC-32 of bytes 0 ..< 20
/// ```
public enum SegmentFile {
    /// Header bytes.
    public static let headerSize = 24
    /// Format version written in the header.
    public static let version: UInt32 = 1
    private static let magic: [UInt8] = Array("SBSPOOL\n".utf8)

    /// `00000042.seg`.
    public static func name(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".seg"
    }

    /// The number of a segment file name, nil for any other name.
    public static func number(ofName name: String) -> UInt64? {
        guard name.hasSuffix(".seg") else { return nil }
        let digits = name.dropLast(4)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// The header of a segment of `epoch`.
    public static func header(epoch: Int64) -> [UInt8] {
        var bytes = magic
        withUnsafeBytes(of: version.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: epoch.littleEndian) { bytes.append(contentsOf: $0) }
        let crc = CRC32.checksum(bytes)
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The epoch a header names, or why it is not a valid header.
    public static func epoch(ofHeader bytes: UnsafeRawBufferPointer) -> Result<Int64, HeaderError> {
        guard bytes.count >= headerSize else { return .failure(HeaderError(reason: "file shorter than its header")) }
        guard bytes.prefix(8).elementsEqual(magic) else { return .failure(HeaderError(reason: "not a spool segment (bad magic)")) }
        let crc = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        guard CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<20])) == crc else {
            return .failure(HeaderError(reason: "header checksum mismatch"))
        }
        let found = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard found == version else { return .failure(HeaderError(reason: "unknown segment version \(found)")) }
        let epoch = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: Int64.self))
        guard epoch > 0 else { return .failure(HeaderError(reason: "epoch \(epoch) is not positive")) }
        return .success(epoch)
    }

    /// Why a segment header was refused.
    public struct HeaderError: Error, Sendable, Hashable {
        /// What was wrong.
        public var reason: String
    }
}
