import GRDB
import Synchronization

/// Many gateway connections' writes in one transaction (SQLite or PostgreSQL).
///
/// A transaction costs about the same whether it holds one reading or a thousand (its dirty
/// pages go to the WAL once), and the pool has one writer. With one transaction per gateway
/// message, 500 gateways sending 20 small messages a second need 10,000 commits a second, more
/// than the writer does. So writes that arrive while a transaction runs wait and go together in
/// the next one, and if one of them fails, again each in its own savepoint (one request's failure does not fail the others), and
/// each caller is answered after that commit: acknowledgements still follow the commit. When
/// writes are rare each still gets its own transaction at once, without added latency.
///
/// The backend supplies `commit`: it writes a group of requests and answers each, after the commit.
/// SQLite's (``init(pool:perform:)``) runs them in one transaction, or each in a savepoint when one
/// fails; PostgreSQL's is ``PostgresReadingWriter``.
final class GroupCommit<Request: Sendable, Result: Sendable>: Sendable {
    private struct Waiting: Sendable {
        var request: Request
        var continuation: CheckedContinuation<Result, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var writing = false
    }

    /// Writes a group of requests (committed when it returns) and gives each its outcome, in order;
    /// throwing fails them all.
    typealias Commit = @Sendable ([Request]) async throws -> [Swift.Result<Result, any Error>]

    private let state = Mutex(State())
    private let commit: Commit

    /// Creates a group commit that writes each group with `commit`.
    init(commit: @escaping Commit) {
        self.commit = commit
    }

    /// Creates a group commit writing through `pool`; `perform` does one request inside the
    /// shared transaction.
    convenience init(pool: DatabasePool, perform: @escaping @Sendable (Request, Database) throws -> Result) {
        self.init { requests in
            do {
                // The common case: every request succeeds, one transaction, no savepoints.
                return try await pool.write { db in try requests.map { .success(try perform($0, db)) } }
            } catch {
                // One failed and rolled the transaction back: again, each in its own savepoint,
                // so that only the failing ones fail.
                return try await pool.write { db in requests.map { request in Self.isolated(request, db, perform) } }
            }
        }
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
            do {
                let outcomes = try await commit(batch.map(\.request))
                for (index, waiting) in batch.enumerated() {
                    // A commit that answered fewer requests than it was given must not leave one waiting forever.
                    waiting.continuation.resume(with: index < outcomes.count ? outcomes[index] : .failure(CancellationError()))
                }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}
