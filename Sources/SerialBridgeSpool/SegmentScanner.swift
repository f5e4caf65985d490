#if canImport(Glibc)
import Glibc
#endif

/// Checks a segment file record by record (read-only), as the spool does at start and
/// `spool status` does on a stopped gateway's spool.
///
/// A record that is cut short or fails its checksum, with nothing valid after it, is a torn
/// tail: the last write before a crash or power loss, safe to cut off. An invalid record with a
/// valid one after it, a bad header, or a break in the sequence is corruption of the middle: the
/// file cannot be trusted as a whole.
enum SegmentScanner {
    /// What a scan found.
    struct Result {
        /// Number from the file name.
        var number: UInt64
        /// The valid records, nil when there are none.
        var info: SegmentInfo?
        /// Epoch named by the header, when the header is valid.
        var headerEpoch: Int64?
        /// Size of the file.
        var fileSize: Int
        /// The verdict.
        var verdict: Verdict
    }

    /// The verdict on a file.
    enum Verdict: Equatable {
        /// Every byte belongs to a valid record.
        case clean
        /// Valid up to `validEnd`; what follows is a torn last record.
        case tornTail(validEnd: Int, reason: String)
        /// Not usable: the reason and the offset of the problem.
        case corrupt(reason: String, offset: Int)
    }

    static func scan(path: String, number: UInt64) -> Result {
        var result = Result(number: number, info: nil, headerEpoch: nil, fileSize: 0, verdict: .clean)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            result.verdict = .corrupt(reason: "cannot open: \(Posix.message(errno))", offset: 0)
            return result
        }
        defer { close(descriptor) }
        guard let size = Posix.size(descriptor) else {
            result.verdict = .corrupt(reason: "cannot stat: \(Posix.message(errno))", offset: 0)
            return result
        }
        result.fileSize = size
        var header = [UInt8](repeating: 0, count: SegmentFile.headerSize)
        let count = Posix.read(descriptor, into: &header, at: 0, count: header.count, offset: 0)
        guard count == SegmentFile.headerSize else {
            // A file cut inside its header was being created when the gateway stopped.
            result.verdict = count < 0
                ? .corrupt(reason: "cannot read the header: \(Posix.message(Int32(-count)))", offset: 0)
                : .tornTail(validEnd: 0, reason: "the file ends inside its header")
            return result
        }
        switch header.withUnsafeBytes({ SegmentFile.epoch(ofHeader: $0) }) {
        case .failure(let error):
            result.verdict = .corrupt(reason: error.reason, offset: 0)
            return result
        case .success(let epoch):
            result.headerEpoch = epoch
        }
        var reader = SegmentReader(from: SegmentFile.headerSize, limit: size)
        while true {
            let recordOffset = reader.offset
            switch reader.next(descriptor) {
            case .record(let record):
                if var info = result.info {
                    guard info.accepts(record) else {
                        result.verdict = .corrupt(reason: "record \(record.id) does not follow \(info.lastID)", offset: recordOffset)
                        return result
                    }
                    info.add(record)
                    result.info = info
                } else {
                    guard record.id.epoch == result.headerEpoch else {
                        result.verdict = .corrupt(reason: "record \(record.id) is not of the header's epoch", offset: recordOffset)
                        return result
                    }
                    result.info = SegmentInfo(number: number, first: record, offset: recordOffset)
                }
            case .end:
                return result
            case .torn(let reason):
                result.verdict = .tornTail(validEnd: recordOffset, reason: reason)
                return result
            case .invalid(let reason):
                if let later = validRecord(in: descriptor, after: recordOffset, size: size) {
                    result.verdict = .corrupt(reason: "\(reason) at offset \(recordOffset), yet a valid record follows at \(later)", offset: recordOffset)
                } else {
                    result.verdict = .tornTail(validEnd: recordOffset, reason: "\(reason) at offset \(recordOffset), nothing valid after it")
                }
                return result
            case .failed(let code):
                result.verdict = .corrupt(reason: "read error: \(Posix.message(code))", offset: recordOffset)
                return result
            }
        }
    }

    /// The offset of a valid record after `offset`, if any: tells a torn tail (nothing valid
    /// follows) from a damaged middle. Reads the rest of the file, which only happens on damage.
    static func validRecord(in descriptor: Int32, after offset: Int, size: Int) -> Int? {
        let start = offset + 1
        guard size - start >= SpoolRecord.headerSize else { return nil }
        var rest = [UInt8](repeating: 0, count: size - start)
        var filled = 0
        while filled < rest.count {
            let count = Posix.read(descriptor, into: &rest, at: filled, count: rest.count - filled, offset: start + filled)
            if count <= 0 { break }
            filled += count
        }
        return rest.withUnsafeBytes { raw -> Int? in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<filled])
            var index = 0
            while index + SpoolRecord.headerSize <= bytes.count {
                // The magic's first byte, then a full check.
                if bytes[index] == 0x53, case .record = SpoolRecord.scan(bytes, at: index) { return start + index }
                index += 1
            }
            return nil
        }
    }
}
