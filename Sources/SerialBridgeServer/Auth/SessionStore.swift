/// Where dashboard sessions live: in this process's memory (``SessionTable``, one instance or
/// SQLite) or in PostgreSQL (``PostgresSessions``, shared by every instance on the database, so a
/// browser may reach any of them without cookie affinity).
///
/// Session ids are 256-bit random values; a store keeps only their SHA-256.
public protocol SessionStore: Sendable {
    /// Starts a session for `user`; returns its id (the cookie value). Throws when the session
    /// cannot be recorded (the database is unreachable).
    func create(user: String) async throws -> String
    /// The user of a live session, renewing its idle time; nil for an unknown or expired id.
    func user(for id: String) async -> String?
    /// Ends a session (logout), everywhere the store is seen.
    func remove(_ id: String) async
    /// Ends every session of `user` (removed from the users).
    func removeAll(of user: String) async
}

// SessionTable's synchronous methods are the witnesses.
extension SessionTable: SessionStore {}
