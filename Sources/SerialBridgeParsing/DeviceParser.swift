import SerialBridgeProfiles

/// A device's whole parsing chain, bytes → frames → values, with its counters.
///
/// One per device session; a value type touched by one task, so the hot path takes no lock and
/// hops no actor.
public struct DeviceParser: Sendable {
    /// The reported fields, index-aligned with every ``DecodedValues``.
    public let fields: [FieldSpec]
    private var framer: any Framer
    private let decoder: any FrameDecoder
    /// Decoded frames.
    public private(set) var readings: UInt64 = 0
    /// Frames that failed to decode.
    public private(set) var decodeErrors: UInt64 = 0
    /// The last decode error, for status displays.
    public private(set) var lastDecodeError: DecodeError?

    /// Builds the chain a profile describes.
    public init(profile: DeviceProfile) {
        self.fields = profile.decoding.fields
        self.framer = ParserRegistry.makeFramer(profile.framing)
        self.decoder = ParserRegistry.makeDecoder(profile.decoding)
    }

    /// Framer counters (bytes, frames, oversize, discarded).
    public var framerCounters: FramerCounters { framer.counters }

    /// Feeds bytes and calls `onValues` for every frame that decodes, and `onError` for every one that does not.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer,
        onValues: (DecodedValues) -> Void,
        onError: (DecodeError) -> Void = { _ in }
    ) {
        let decoder = self.decoder
        var good: UInt64 = 0
        var bad: UInt64 = 0
        var lastError: DecodeError?
        framer.feed(bytes) { frame in
            switch decoder.decode(frame) {
            case .success(let values):
                good += 1
                onValues(values)
            case .failure(let error):
                bad += 1
                lastError = error
                onError(error)
            }
        }
        readings &+= good
        decodeErrors &+= bad
        if let lastError { lastDecodeError = lastError }
    }
}
