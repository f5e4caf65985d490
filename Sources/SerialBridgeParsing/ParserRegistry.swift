import SerialBridgeProfiles

/// Builds framers and decoders from a profile's specs. Adding a framer or decoder means adding its
/// type, a case to the spec, and a line here.
public enum ParserRegistry {
    /// The framer for a framing spec.
    public static func makeFramer(_ spec: FramingSpec) -> any Framer {
        switch spec {
        case .line(let terminator, let maxLength): LineFramer(terminator: terminator, maxLength: maxLength)
        }
    }

    /// The decoder for a decoding spec.
    public static func makeDecoder(_ spec: DecodingSpec) -> any FrameDecoder {
        switch spec {
        case .delimited(let delimiter, let fields): DelimitedDecoder(delimiter: delimiter, columns: fields)
        }
    }
}
