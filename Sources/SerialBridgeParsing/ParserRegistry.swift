/// Framers and decoders by the `type` name profiles use. Adding one means adding its file, a line
/// here, and its section in docs/PROFILES.md and the JSON Schema.
public enum ParserRegistry {
    /// Every framer configuration, by `framing.type`.
    public static let framers: [String: any FramerConfiguration.Type] = Dictionary(
        uniqueKeysWithValues: ([
            LineFraming.self,
            FixedLengthFraming.self,
            LengthFieldFraming.self,
            DelimiterFraming.self,
            SLIPFraming.self,
            COBSFraming.self,
            SilenceGapFraming.self,
            ModbusRTUFraming.self,
        ] as [any FramerConfiguration.Type]).map { ($0.type, $0) }
    )

    /// Every decoder configuration, by `decoding.type`.
    public static let decoders: [String: any DecoderConfiguration.Type] = Dictionary(
        uniqueKeysWithValues: ([
            DelimitedDecoding.self,
            RegexDecoding.self,
            KeyValueDecoding.self,
            JSONDecoding.self,
            NMEADecoding.self,
            BinaryDecoding.self,
        ] as [any DecoderConfiguration.Type]).map { ($0.type, $0) }
    )
}
