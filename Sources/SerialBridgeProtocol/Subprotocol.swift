/// The WebSocket subprotocol of this protocol: the gateway offers it in `Sec-WebSocket-Protocol`,
/// and the server refuses an upgrade that does not.
public enum Subprotocol {
    /// `serialbridge.v1`.
    public static let name = "serialbridge.v1"

    /// True when a `Sec-WebSocket-Protocol` header value (a comma-separated list) offers ``name``.
    public static func offered(in header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { $0.filter { $0 != " " && $0 != "\t" } == name }
    }
}

