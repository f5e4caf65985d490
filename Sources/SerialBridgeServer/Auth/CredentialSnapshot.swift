import Synchronization

/// Credentials kept in memory and replaced as a whole by whoever follows their source (for
/// PostgreSQL, ``PostgresCredentials`` polling the database). Checks read it synchronously, so a
/// gateway connect or a login never waits for the database.
final class CredentialSnapshot<Value: Sendable>: Sendable {
    private let state: Mutex<(value: Value, generation: Int)>

    /// Starts with `value`, generation 0.
    init(_ value: Value) {
        state = Mutex((value, 0))
    }

    /// The value in force and a number that grows at every ``replace(with:)``.
    func current() -> (value: Value, generation: Int) {
        state.withLock { $0 }
    }

    /// Puts a newly read value in force.
    func replace(with value: Value) {
        state.withLock { $0 = (value, $0.generation + 1) }
    }
}
