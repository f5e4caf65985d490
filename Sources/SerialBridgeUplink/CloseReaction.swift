import Logging

/// What the gateway does after the server closed the link with a given close code: the gateway's
/// side of the close-code table in docs/PROTOCOL.md, as one pure function (``of(_:)``).
///
/// The uplink performs the reaction: it logs ``meaning`` at ``level``, asks the auth endpoint when
/// ``asksAuthEndpoint`` is set, lowers its message size on ``shrinksMessages``, moves to the next
/// failover URL on ``triesNextURL`` and waits as ``wait`` says before redialling.
public struct CloseReaction: Sendable, Equatable {
    /// How long to wait before redialling.
    public enum Wait: Sendable, Equatable {
        /// A short jittered delay (up to `min(initialDelay, 1 s)`), not counted as a failure: the
        /// server is going away or restarting on purpose and will be back (or another will).
        case brief
        /// The next exponential backoff delay; counts as a failed attempt.
        case backoff
        /// Between half the cap and the cap: retrying soon cannot help (a refused token, an
        /// unsupported protocol version, an overloaded server).
        case cap
    }

    /// The wait before redialling.
    public var wait: Wait
    /// Dial the next failover URL first (when there are several).
    public var triesNextURL: Bool
    /// Ask the server's auth endpoint why (the answer is logged).
    public var asksAuthEndpoint: Bool
    /// Halve the largest message sent from now on (the server found one too big).
    public var shrinksMessages: Bool
    /// How loud the close is logged.
    public var level: Logger.Level
    /// What the code means, for the log line.
    public var meaning: String

    init(_ wait: Wait, _ level: Logger.Level, _ meaning: String, nextURL: Bool = false, auth: Bool = false, shrink: Bool = false) {
        self.wait = wait
        self.level = level
        self.meaning = meaning
        self.triesNextURL = nextURL
        self.asksAuthEndpoint = auth
        self.shrinksMessages = shrink
    }

    /// The reaction to a close frame with `code` sent by the server.
    ///
    /// 1005 (no status), 1006 (no close frame) and 1015 (TLS failure) are never sent on the wire;
    /// should a peer send one anyway it is treated like an unknown code: backoff.
    public static func of(_ code: UInt16) -> CloseReaction {
        switch code {
        case 1000: CloseReaction(.backoff, .info, "normal close")
        case 1001: CloseReaction(.brief, .info, "going away (server shutting down)", nextURL: true)
        case 1002: CloseReaction(.backoff, .error, "protocol error: the server could not follow this gateway's messages")
        case 1003: CloseReaction(.backoff, .error, "unsupported data")
        case 1007: CloseReaction(.backoff, .error, "invalid data (a malformed chunk or a CRC mismatch)")
        case 1008:
            CloseReaction(.cap, .error, "policy violation (token refused or gateway id mismatch)", auth: true)
        case 1009:
            CloseReaction(.backoff, .error, "message too big for the server", shrink: true)
        case 1011: CloseReaction(.backoff, .warning, "server error (e.g. its storage failed)")
        case 1012: CloseReaction(.brief, .info, "service restart")
        case 1013: CloseReaction(.cap, .warning, "try again later (server overloaded or rate limiting)")
        case 4000:
            CloseReaction(.cap, .error, "no common protocol version: this gateway's software and the server's do not match")
        default: CloseReaction(.backoff, .warning, "close code \(code)")
        }
    }
}
