/// How a gateway encodes its readings on the wire.
public enum WireFormat: String, Sendable, Hashable, CaseIterable {
    /// JSON `reading` messages (batched as `batch`).
    case json
    /// Binary records (batched in binary messages), about half the bytes.
    case binary
}
