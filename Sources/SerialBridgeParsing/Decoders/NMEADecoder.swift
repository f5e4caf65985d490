import SerialBridgeJSON

/// `decoding.type = "nmea"`: NMEA 0183 sentences from GPS/GNSS receivers, echo sounders, wind
/// instruments, e.g. `$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47`.
///
/// A frame is one sentence: `$` (or `!`), the address field (talker id and sentence type, e.g.
/// `GPGGA`), comma-separated data fields, then `*hh`, the XOR of every byte between `$` and `*`
/// as two hex digits. Trailing CR, LF and spaces are ignored. The checksum is verified; a sentence
/// without one is a decode error unless ``NMEADecoding/requireChecksum`` is false.
///
/// The talker id does not matter (`GP`, `GN`, `GL`, `GA`, `BD`, …): the sentence type is the last
/// three characters of the address field. Each field is either
/// - a named ``NMEASource`` (`latitude`, `altitude`, …) filled from GGA or RMC sentences, from
///   whichever arrives unless the field restricts it with `sentence`; or
/// - a generic `sentence` + `index` (1-based data field number after the address field).
///
/// Fields of other sentences are nil, and a sentence no field refers to decodes to all nil, which
/// ``DeviceParser`` counts as ignored. An empty NMEA field (e.g. no fix) or one past the end of a
/// shorter sentence gives nil.
///
/// Latitude and longitude become signed decimal degrees (`ddmm.mmmm` + `N`/`S`,
/// `dddmm.mmmm` + `E`/`W`; south and west negative).
public struct NMEADecoder: FrameDecoder {
    /// Settings.
    public let configuration: NMEADecoding
    /// The `sentence` of each field as bytes, nil for none.
    private let sentences: [[UInt8]?]

    /// Creates a decoder.
    public init(_ configuration: NMEADecoding) {
        self.configuration = configuration
        sentences = configuration.locations.map { $0.sentence.map { Array($0.utf8) } }
    }

    /// Decodes one frame into one value (or nil) per configured field; never traps on any input.
    public func decode(_ frame: UnsafeRawBufferPointer) -> Result<[Value?], DecodeError> {
        var end = frame.count
        while end > 0, frame[end - 1] == 0x0D || frame[end - 1] == 0x0A || frame[end - 1] == 0x20 { end -= 1 }
        guard end > 0, frame[0] == UInt8(ascii: "$") || frame[0] == UInt8(ascii: "!") else {
            return .failure(DecodeError("not an NMEA sentence: does not start with '$'"))
        }
        var bodyEnd = end
        if let star = (1..<end).first(where: { frame[$0] == UInt8(ascii: "*") }) {
            bodyEnd = star
            let digits = UnsafeRawBufferPointer(rebasing: frame[(star + 1)..<end])
            guard digits.count == 2, let high = Self.hexDigit(digits[0]), let low = Self.hexDigit(digits[1]) else {
                let shown = String(decoding: digits.prefix(8), as: UTF8.self)
                return .failure(DecodeError("NMEA checksum \"\(shown)\" is not two hex digits"))
            }
            let stated = high << 4 | low
            var computed: UInt8 = 0
            for byte in frame[1..<star] { computed ^= byte }
            guard computed == stated else {
                return .failure(DecodeError("NMEA checksum mismatch: computed 0x\(Self.hex(computed)), sentence says 0x\(Self.hex(stated))"))
            }
        } else if configuration.requireChecksum {
            return .failure(DecodeError("NMEA sentence has no checksum (*hh); set requireChecksum to false to accept such sentences"))
        }

        // Data fields: offsets of the address field and every field after it.
        var parts: [Range<Int>] = []
        var start = 1
        for index in 1...bodyEnd where index == bodyEnd || frame[index] == UInt8(ascii: ",") {
            parts.append(start..<index)
            start = index + 1
        }
        let address = parts[0]
        guard address.count >= 3, frame[address].allSatisfy(Self.isAddressByte) else {
            let shown = String(decoding: UnsafeRawBufferPointer(rebasing: frame[address]).prefix(16), as: UTF8.self)
            return .failure(DecodeError("NMEA address field \"\(shown)\" is not 3 or more letters and digits"))
        }
        let type = UnsafeRawBufferPointer(rebasing: frame[(address.upperBound - 3)..<address.upperBound])
        let addressBytes = UnsafeRawBufferPointer(rebasing: frame[address])

        var values = [Value?](repeating: nil, count: configuration.fields.count)
        for (slot, (field, location)) in zip(configuration.fields, configuration.locations).enumerated() {
            if let wanted = sentences[slot] {
                let matches = wanted.count == 3 ? type.elementsEqual(wanted) : addressBytes.elementsEqual(wanted)
                guard matches else { continue }
            }
            switch location.kind {
            case .index(let index):
                guard index < parts.count else { continue }
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: frame[parts[index]]), as: UTF8.self)
                if text.isEmpty { continue }
                switch TextValue.parse(text, as: field) {
                case .success(let value): values[slot] = value
                case .failure(let error): return .failure(error)
                }
            case .source(let source):
                guard let place = source.place(inSentenceType: type) else { continue }
                switch Self.extract(source, place, from: frame, parts: parts, field: field) {
                case .success(let value): values[slot] = value
                case .failure(let error): return .failure(error)
                }
            }
        }
        return .success(values)
    }

    /// The value of a named source at `place`, nil when the sentence leaves it empty.
    static func extract(
        _ source: NMEASource, _ place: Int, from frame: UnsafeRawBufferPointer, parts: [Range<Int>], field: FieldSpec
    ) -> Result<Value?, DecodeError> {
        guard place < parts.count else { return .success(nil) }
        let text = UnsafeRawBufferPointer(rebasing: frame[parts[place]])
        if text.isEmpty { return .success(nil) }
        switch source {
        case .latitude, .longitude:
            let hemisphere = place + 1 < parts.count ? UnsafeRawBufferPointer(rebasing: frame[parts[place + 1]]) : UnsafeRawBufferPointer(start: nil, count: 0)
            return degrees(text, hemisphere: hemisphere, latitude: source == .latitude, field: field).map { .float($0) }
        default:
            return TextValue.parse(String(decoding: text, as: UTF8.self), as: field)
        }
    }

    /// `ddmm.mmmm` (latitude) or `dddmm.mmmm` (longitude) with its hemisphere letter, as signed
    /// decimal degrees. Parsed from the text rather than via `Double(text) / 100` so minutes keep
    /// every digit the receiver sent.
    static func degrees(
        _ text: UnsafeRawBufferPointer, hemisphere: UnsafeRawBufferPointer, latitude: Bool, field: FieldSpec
    ) -> Result<Double, DecodeError> {
        let shown = String(decoding: text.prefix(24), as: UTF8.self)
        let what = latitude ? "ddmm.mmmm latitude" : "dddmm.mmmm longitude"
        let invalid = DecodeError("field \"\(field.name)\": \"\(shown)\" is not a valid \(what)")
        let dot = text.firstIndex(of: UInt8(ascii: ".")) ?? text.count
        let whole = text[..<dot]
        let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
        guard (3...5).contains(whole.count), whole.allSatisfy(isDigit),
            dot == text.count || (dot + 1 < text.count && text[(dot + 1)...].allSatisfy(isDigit))
        else { return .failure(invalid) }
        var degrees = 0
        for byte in whole.dropLast(2) { degrees = degrees * 10 + Int(byte - 0x30) }
        let minutesText = String(decoding: UnsafeRawBufferPointer(rebasing: text[(whole.endIndex - 2)...]), as: UTF8.self)
        guard let minutes = Double(minutesText), minutes < 60 else { return .failure(invalid) }
        let value = Double(degrees) + minutes / 60
        guard value <= (latitude ? 90 : 180) else { return .failure(invalid) }
        let letters: (positive: UInt8, negative: UInt8) = latitude ? (UInt8(ascii: "N"), UInt8(ascii: "S")) : (UInt8(ascii: "E"), UInt8(ascii: "W"))
        guard hemisphere.count == 1, hemisphere[0] == letters.positive || hemisphere[0] == letters.negative else {
            let expected = latitude ? "N or S" : "E or W"
            if hemisphere.isEmpty { return .failure(DecodeError("field \"\(field.name)\": hemisphere (\(expected)) missing after \"\(shown)\"")) }
            let got = String(decoding: hemisphere.prefix(8), as: UTF8.self)
            return .failure(DecodeError("field \"\(field.name)\": hemisphere \"\(got)\" is not \(expected)"))
        }
        return .success(hemisphere[0] == letters.negative ? -value : value)
    }

    static func isAddressByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte)
    }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}

/// A value of GGA or RMC sentences that an NMEA field can name as its `source`.
public enum NMEASource: String, Sendable, Hashable, CaseIterable {
    /// UTC time of the fix, `hhmmss.ss` as sent (string). GGA, RMC.
    case time
    /// `A` (valid) or `V` (void) (string). RMC.
    case status
    /// Signed decimal degrees, south negative (float). GGA, RMC.
    case latitude
    /// Signed decimal degrees, west negative (float). GGA, RMC.
    case longitude
    /// GPS quality indicator: 0 no fix, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, … (integer). GGA.
    case fixQuality
    /// Satellites in use (integer). GGA.
    case satellites
    /// Horizontal dilution of precision (float). GGA.
    case hdop
    /// Antenna altitude above mean sea level, metres (float). GGA.
    case altitude
    /// Geoid separation, metres (float). GGA.
    case geoidSeparation
    /// Speed over ground, knots (float). RMC.
    case speedKnots
    /// Course over ground, degrees true (float). RMC.
    case course
    /// Date, `ddmmyy` as sent (string). RMC.
    case date

    /// The sentence types that carry this value.
    public var sentenceTypes: [String] {
        switch self {
        case .time, .latitude, .longitude: ["GGA", "RMC"]
        case .fixQuality, .satellites, .hdop, .altitude, .geoidSeparation: ["GGA"]
        case .status, .speedKnots, .course, .date: ["RMC"]
        }
    }

    /// The value's type; a field naming this source has this type.
    public var valueType: FieldSpec.ValueType {
        switch self {
        case .time, .status, .date: .string
        case .fixQuality, .satellites: .integer
        case .latitude, .longitude, .hdop, .altitude, .geoidSeparation, .speedKnots, .course: .float
        }
    }

    /// The 1-based data field of this value in a sentence of `type` (for latitude and longitude,
    /// the hemisphere follows), or nil when that sentence does not carry it.
    func place(inSentenceType type: some Collection<UInt8>) -> Int? {
        let gga = type.elementsEqual("GGA".utf8)
        let rmc = !gga && type.elementsEqual("RMC".utf8)
        switch self {
        case .time: return gga || rmc ? 1 : nil
        case .latitude: return gga ? 2 : rmc ? 3 : nil
        case .longitude: return gga ? 4 : rmc ? 5 : nil
        case .fixQuality: return gga ? 6 : nil
        case .satellites: return gga ? 7 : nil
        case .hdop: return gga ? 8 : nil
        case .altitude: return gga ? 9 : nil
        case .geoidSeparation: return gga ? 11 : nil
        case .status: return rmc ? 2 : nil
        case .speedKnots: return rmc ? 7 : nil
        case .course: return rmc ? 8 : nil
        case .date: return rmc ? 9 : nil
        }
    }
}

/// Where an NMEA field's value comes from.
public struct NMEAFieldLocation: Sendable, Hashable {
    /// A named value, or a data field number.
    public enum Kind: Sendable, Hashable {
        /// A named value of GGA/RMC sentences.
        case source(NMEASource)
        /// The 1-based data field after the address field.
        case index(Int)
    }

    /// What to read.
    public var kind: Kind
    /// Only sentences of this type (3 characters, e.g. `GSV`) or with this whole address field
    /// (e.g. `GPGSV`); nil for any sentence that carries the source. Required with ``Kind/index(_:)``.
    public var sentence: String?

    /// Creates a location.
    public init(_ kind: Kind, sentence: String? = nil) {
        self.kind = kind
        self.sentence = sentence
    }
}

/// Settings of ``NMEADecoder``.
public struct NMEADecoding: DecoderConfiguration, Hashable {
    /// The `decoding.type` of this decoder: `nmea`.
    public static let type = "nmea"

    /// When true (the default), a sentence without `*hh` is a decode error.
    public var requireChecksum: Bool
    /// The fields, in output order.
    public var fields: [FieldSpec]
    /// Where each field's value comes from.
    public var locations: [NMEAFieldLocation]

    /// Creates settings. Unlike ``init(reading:)`` this does not validate: an index location without
    /// a sentence, or a source restricted to a sentence that lacks it, simply yields nil.
    public init(requireChecksum: Bool = true, fields: [FieldSpec], locations: [NMEAFieldLocation]) {
        self.requireChecksum = requireChecksum
        self.fields = fields
        self.locations = locations
    }

    /// Reads `requireChecksum` and `fields`, each with either `source` (and optionally
    /// `sentence`) or `sentence` and `index`.
    public init?(reading section: inout JSONObjectReader) {
        let requireChecksum = section.bool("requireChecksum") ?? true
        var fields: [FieldSpec] = []
        var locations: [NMEAFieldLocation] = []
        var names: Set<String> = []
        let items = section.array("fields", required: true) ?? []
        if items.isEmpty, section.has("fields") { section.fail(key: "fields", "must list at least one field") }
        for item in items {
            var reader = JSONObjectReader(item.value, file: section.file, path: item.path)
            let location = Self.readLocation(&reader)
            var defaultType = FieldSpec.ValueType.float
            if case .source(let source)? = location?.kind { defaultType = source.valueType }
            if let field = FieldSpec.read(&reader, defaultType: defaultType) {
                if !names.insert(field.name).inserted {
                    reader.fail(key: "name", "duplicate field name \"\(field.name)\"")
                }
                if case .source(let source)? = location?.kind, field.type != source.valueType {
                    reader.fail(key: "type", "must be \"\(source.valueType.rawValue)\" for source \"\(source.rawValue)\" (or left out)")
                }
                if let location {
                    fields.append(field)
                    locations.append(location)
                }
            }
            section.absorb(reader)
        }
        guard !fields.isEmpty, section.isClean else { return nil }
        self.requireChecksum = requireChecksum
        self.fields = fields
        self.locations = locations
    }

    /// Reads `source`, `sentence` and `index` of one field object.
    static func readLocation(_ reader: inout JSONObjectReader) -> NMEAFieldLocation? {
        let sourceText = reader.string("source")
        let sentence = reader.string("sentence")
        let index = reader.integer("index", in: 1...99)
        if let sentence, !(3...10).contains(sentence.utf8.count) || !sentence.utf8.allSatisfy(NMEADecoder.isAddressByte) {
            reader.fail(
                key: "sentence",
                "must be a sentence type such as \"GSV\" or a whole address field such as \"GPGSV\" (3 to 10 upper-case letters and digits)"
            )
            return nil
        }
        if let sourceText {
            if reader.has("index") { reader.fail(key: "index", "cannot be combined with source; use either source, or sentence and index") }
            guard let source = NMEASource(rawValue: sourceText) else {
                let valid = NMEASource.allCases.map(\.rawValue).joined(separator: ", ")
                reader.fail(key: "source", "unknown source \"\(sourceText)\"; valid sources are \(valid)")
                return nil
            }
            if let sentence {
                let type = String(sentence.suffix(3))
                guard source.sentenceTypes.contains(type) else {
                    let carriers = source.sentenceTypes.joined(separator: " and ")
                    reader.fail(key: "sentence", "\(sentence) sentences do not carry source \"\(source.rawValue)\" (\(carriers) sentences do)")
                    return nil
                }
            }
            return reader.has("index") ? nil : NMEAFieldLocation(.source(source), sentence: sentence)
        }
        guard let sentence, let index else {
            if reader.has("sentence") || reader.has("index") {
                if !reader.has("index") { reader.fail(key: "index", "is required with sentence (or give a source)") }
                if !reader.has("sentence") { reader.fail(key: "sentence", "is required with index") }
            } else if !reader.has("source") {
                reader.fail(reader.path, "needs a source (e.g. \"latitude\"), or a sentence and an index")
            }
            return nil
        }
        return NMEAFieldLocation(.index(index), sentence: sentence)
    }

    /// A decoder with these settings.
    public func makeDecoder() -> any FrameDecoder { NMEADecoder(self) }
}
