/// The parsing half of a profile: framing, optional integrity check, decoding, and which values
/// form a reading.
public struct ParsingSpec: Sendable {
    /// How frames are cut.
    public var framing: any FramerConfiguration
    /// Checksum every frame must pass, if any.
    public var integrity: IntegrityCheck?
    /// How frames become values; nil for raw-only devices.
    public var decoding: (any DecoderConfiguration)?
    /// Names of the decoded fields that form a reading, in order (default: every field not skipped).
    public var outputNames: [String]?
    /// When true, every reading also carries the frame's bytes as a value named `raw`.
    public var raw: Bool

    /// Creates a spec.
    public init(
        framing: any FramerConfiguration, integrity: IntegrityCheck? = nil,
        decoding: (any DecoderConfiguration)?, outputNames: [String]? = nil, raw: Bool = false
    ) {
        self.framing = framing
        self.integrity = integrity
        self.decoding = decoding
        self.outputNames = outputNames
        self.raw = raw
    }

    /// The values of a reading, in order: name and unit.
    public var outputFields: [OutputField] {
        let fields = decoding?.fields ?? []
        var result: [OutputField] = []
        if let outputNames {
            for name in outputNames {
                if let field = fields.first(where: { $0.name == name }) { result.append(OutputField(name: name, unit: field.unit)) }
            }
        } else {
            result = fields.filter { !$0.skip }.map { OutputField(name: $0.name, unit: $0.unit) }
        }
        if raw { result.append(OutputField(name: "raw", unit: nil)) }
        return result
    }
}

/// A value of a reading: its name and unit.
public struct OutputField: Sendable, Hashable {
    /// Value name.
    public var name: String
    /// Unit, if any.
    public var unit: String?

    /// Creates a field.
    public init(name: String, unit: String?) {
        self.name = name
        self.unit = unit
    }
}

/// One decoded reading, before it has an identity.
public struct ParsedReading: Sendable, Hashable {
    /// Values aligned with ``DeviceParser/outputFields``; nil where the frame carried none.
    public var values: [Value?]
    /// Names of values outside their valid range (usually empty).
    public var outOfRange: [String]
    /// Stream offset of the frame's first byte.
    public var offset: UInt64

    /// Creates a reading.
    public init(values: [Value?], outOfRange: [String] = [], offset: UInt64 = 0) {
        self.values = values
        self.outOfRange = outOfRange
        self.offset = offset
    }
}

/// A frame that produced no reading, and why.
public struct Rejection: Sendable, Hashable, CustomStringConvertible {
    /// Which stage rejected it.
    public enum Stage: String, Sendable, Hashable {
        case framing, integrity, decoding
    }

    /// The stage.
    public var stage: Stage
    /// The reason, e.g. `crc16-modbus mismatch: computed 0x4B37, frame says 0x0000`.
    public var message: String
    /// Stream offset of the first byte concerned.
    public var offset: UInt64

    /// Creates a rejection.
    public init(stage: Stage, message: String, offset: UInt64 = 0) {
        self.stage = stage
        self.message = message
        self.offset = offset
    }

    public var description: String { message }
}

/// Counters of one device's parsing.
public struct ParserCounters: Sendable, Hashable {
    /// Framer counters (bytes, frames, oversize, discarded, resyncs).
    public var framer = FramerCounters()
    /// Readings produced.
    public var readings: UInt64 = 0
    /// Frames that failed the integrity check.
    public var checksumErrors: UInt64 = 0
    /// Frames that failed to decode.
    public var decodeErrors: UInt64 = 0
    /// Values flagged as out of their valid range.
    public var outOfRange: UInt64 = 0
    /// Byte runs the framer rejected (oversize, garbage, bad length).
    public var framingErrors: UInt64 = 0
    /// Frames that decoded to no value at all (e.g. NMEA sentences the profile does not use).
    public var ignoredFrames: UInt64 = 0

    /// Zero counters.
    public init() {}
}

/// A device's whole parsing chain, bytes → frames → checked frames → values → readings.
///
/// One per device session; a value type touched by one task, so the hot path takes no lock and
/// hops no actor.
public struct DeviceParser: Sendable {
    /// The values of every reading, in order.
    public var outputFields: [OutputField] { interpreter.outputFields }
    private var framer: any Framer
    private let interpreter: FrameInterpreter
    private var countersExceptFramer = ParserCounters()

    /// Builds the chain a spec describes.
    public init(spec: ParsingSpec) {
        framer = spec.framing.makeFramer()
        interpreter = FrameInterpreter(spec: spec)
    }

    /// All counters.
    public var counters: ParserCounters {
        var result = countersExceptFramer
        result.framer = framer.counters
        return result
    }

    /// Feeds bytes that arrived at `time` (monotonic nanoseconds; 0 when unknown).
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, at time: UInt64 = 0,
        onReading: (ParsedReading) -> Void, onRejection: (Rejection) -> Void = { _ in }
    ) {
        var local = countersExceptFramer
        let interpreter = self.interpreter
        framer.feed(bytes, at: time) { event in
            interpreter.handle(event, counters: &local, onReading: onReading, onRejection: onRejection)
        }
        countersExceptFramer = local
    }

    /// Lets a time-based framer end a frame on silence; call when no byte has arrived up to `time`.
    public mutating func flush(at time: UInt64, onReading: (ParsedReading) -> Void, onRejection: (Rejection) -> Void = { _ in }) {
        var local = countersExceptFramer
        let interpreter = self.interpreter
        framer.flush(at: time) { event in
            interpreter.handle(event, counters: &local, onReading: onReading, onRejection: onRejection)
        }
        countersExceptFramer = local
    }
}

/// The stages after framing — integrity check, decoding, field finishing — for one frame.
///
/// Separate from ``DeviceParser`` so a polled device, whose frames a bus scheduler cuts and
/// matches to requests, turns a response into a reading by the same rules as a streaming one.
public struct FrameInterpreter: Sendable {
    /// The values of every reading, in order.
    public let outputFields: [OutputField]
    private let integrity: IntegrityCheck?
    private let decoder: (any FrameDecoder)?
    private let fieldSpecs: [FieldSpec]
    /// For each output value (except `raw`), the index of its decoder field.
    private let selection: [Int]
    /// Whether ``selection`` is every decoder field in order.
    private let selectsEveryField: Bool
    private let raw: Bool

    /// What became of one frame.
    public enum Outcome: Sendable, Hashable {
        /// The frame made a reading.
        case reading(ParsedReading)
        /// The frame failed the integrity check or decoding.
        case rejected(Rejection)
        /// The frame was fine but carried no value the profile uses.
        case ignored
    }

    /// Builds the stages a spec describes (its framing is not used).
    public init(spec: ParsingSpec) {
        outputFields = spec.outputFields
        integrity = spec.integrity
        decoder = spec.decoding?.makeDecoder()
        let fields = spec.decoding?.fields ?? []
        fieldSpecs = fields
        raw = spec.raw
        selection = outputFields.compactMap { output in
            output.name == "raw" && spec.raw ? nil : fields.firstIndex { $0.name == output.name }
        }
        selectsEveryField = selection == Array(fields.indices)
    }

    /// Scales and range-checks decoder field `index`'s value, flagging it when out of range.
    private func finish(_ rawValue: Value, _ index: Int, _ flagged: inout [String], _ counters: inout ParserCounters) -> Value {
        let (value, outOfRange) = fieldSpecs[index].finish(rawValue)
        if outOfRange {
            flagged.append(fieldSpecs[index].name)
            counters.outOfRange &+= 1
        }
        return value
    }

    /// Checks and decodes one frame, counting what happened in `counters`.
    public func interpret(_ frame: UnsafeRawBufferPointer, offset: UInt64, counters: inout ParserCounters) -> Outcome {
        if let integrity, case .failure(let failure) = integrity.verify(frame) {
            counters.checksumErrors &+= 1
            return .rejected(Rejection(stage: .integrity, message: failure.message, offset: offset))
        }
        var values: [Value?] = []
        var flagged: [String] = []
        // Optional chaining rather than `if let`: binding would copy the existential's box.
        if let decoded = decoder?.decode(frame) {
            switch decoded {
            case .failure(let error):
                counters.decodeErrors &+= 1
                return .rejected(Rejection(stage: .decoding, message: error.message, offset: offset))
            case .success(let decoded):
                if selectsEveryField, decoded.count == fieldSpecs.count {
                    // Every decoded value in order (the usual case): finish them in place.
                    values = decoded
                    for index in values.indices {
                        guard let rawValue = values[index] else { continue }
                        values[index] = finish(rawValue, index, &flagged, &counters)
                    }
                } else {
                    values.reserveCapacity(selection.count + 1)
                    for index in selection {
                        guard index < decoded.count, let rawValue = decoded[index] else {
                            values.append(nil)
                            continue
                        }
                        values.append(finish(rawValue, index, &flagged, &counters))
                    }
                }
            }
        }
        if raw {
            values.append(.bytes(Array(frame)))
        } else if values.allSatisfy({ $0 == nil }) {
            counters.ignoredFrames &+= 1
            return .ignored
        }
        counters.readings &+= 1
        return .reading(ParsedReading(values: values, outOfRange: flagged, offset: offset))
    }

    func handle(
        _ event: FramerEvent, counters: inout ParserCounters,
        onReading: (ParsedReading) -> Void, onRejection: (Rejection) -> Void
    ) {
        switch event {
        case .rejected(let reason, let offset):
            counters.framingErrors &+= 1
            onRejection(Rejection(stage: .framing, message: reason, offset: offset))
        case .frame(let frame, let offset):
            switch interpret(frame, offset: offset, counters: &counters) {
            case .reading(let reading): onReading(reading)
            case .rejected(let rejection): onRejection(rejection)
            case .ignored: break
            }
        }
    }
}
