import SerialBridgeJSON

/// Turns one frame into raw values. Stateless and pure: the same bytes always decode the same way.
///
/// A decoder extracts; it does not scale, map enums or check ranges: ``FieldSpec/finish(_:)`` does
/// that for every decoder alike.
public protocol FrameDecoder: Sendable {
    /// Decodes `frame` into one entry per field of the decoder's configuration, in order; `nil`
    /// marks a value the frame does not carry this time (e.g. a GPS position without a fix).
    func decode(_ frame: UnsafeRawBufferPointer) -> Result<[Value?], DecodeError>
}

/// A decoder's settings as read from a profile's `decoding` section, registered under ``type``.
public protocol DecoderConfiguration: Sendable {
    /// The `decoding.type` this configuration is registered under, e.g. `delimited`.
    static var type: String { get }

    /// Reads the decoding section (the reader already consumed `type`); records errors in the reader
    /// and returns nil when the section is invalid.
    init?(reading section: inout JSONObjectReader)

    /// Every field the decoder produces, in the order of its output.
    var fields: [FieldSpec] { get }

    /// A decoder with these settings.
    func makeDecoder() -> any FrameDecoder
}
