import GRDB
import Synchronization

/// Many gateway connections' writes in one SQLite transaction.
///
/// A transaction costs about the same whether it holds one reading or a thousand (its dirty
/// pages go to the WAL once), and the pool has one writer. With one transaction per gateway
/// message, 500 gateways sending 20 small messages a second need 10,000 commits a second, more
/// than the writer does. So writes that arrive while a transaction runs wait and go together in
/// the next one, and if one of them fails, again each in its own savepoint (one request's failure does not fail the others), and
/// each caller is answered after that commit: acknowledgements still follow the commit. When
/// writes are rare each still gets its own transaction at once, without added latency.
final class GroupCommit<Request: Sendable, Result: Sendable>: Sendable {
    private struct Waiting: Sendable {
        var request: Request
        var continuation: CheckedContinuation<Result, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var writing = false
    }

    private let state = Mutex(State())
    private let pool: DatabasePool
    private let perform: @Sendable (Request, Database) throws -> Result

    /// Creates a group commit writing through `pool`; `perform` does one request inside the
    /// shared transaction.
    init(pool: DatabasePool, perform: @escaping @Sendable (Request, Database) throws -> Result) {
        self.pool = pool
        self.perform = perform
    }

    /// Writes `request` in the next transaction and returns its result once that is committed.
    func write(_ request: Request) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool in
                state.waiting.append(Waiting(request: request, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            // The first writer of a quiet spell drains the queue; later ones only wait.
            if start { Task { await self.drain() } }
        }
    }

    private static func isolated(
        _ request: Request, _ db: Database, _ perform: (Request, Database) throws -> Result
    ) -> Swift.Result<Result, any Error> {
        var outcome: Swift.Result<Result, any Error> = .failure(CancellationError())
        do {
            try db.inSavepoint {
                outcome = .success(try perform(request, db))
                return .commit
            }
        } catch {
            outcome = .failure(error)
        }
        return outcome
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiting] in
                let batch = state.waiting
                state.waiting = []
                if batch.isEmpty { state.writing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            let perform = self.perform
            let requests = batch.map(\.request)
            do {
                let outcomes: [Swift.Result<Result, any Error>]
                do {
                    // The common case: every request succeeds, one transaction, no savepoints.
                    outcomes = try await pool.write { db in try requests.map { .success(try perform($0, db)) } }
                } catch {
                    // One failed and rolled the transaction back: again, each in its own savepoint,
                    // so that only the failing ones fail.
                    outcomes = try await pool.write { db in requests.map { request in Self.isolated(request, db, perform) } }
                }
                for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(with: outcome) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}
