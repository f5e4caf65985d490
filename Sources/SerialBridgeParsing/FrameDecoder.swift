/// Turns one frame into values. Stateless and pure: the same bytes always decode the same way.
public protocol FrameDecoder: Sendable {
    /// Decodes `frame` into values index-aligned with the profile's reported fields.
    func decode(_ frame: UnsafeRawBufferPointer) -> Result<DecodedValues, DecodeError>
}
