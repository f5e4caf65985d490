import Logging
import SerialBridgeProtocol
import ServiceLifecycle

/// Enforces a ``RetentionPolicy``: a prune shortly after start, then one every `interval`, each
/// deleting in small batches so that ingest never waits long for the write lock.
public struct RetentionService: Service {
    /// The storage to prune.
    public let storage: any ServerStorage
    /// What to keep.
    public let policy: RetentionPolicy
    /// Time between two prunes.
    public let interval: Duration
    /// Rows per delete transaction.
    public let batchSize: Int
    /// The wall clock the cutoffs are computed from, ms since 1970 (injected by tests).
    public let now: @Sendable () -> Int64
    let logger: Logger

    /// Creates the service (hourly prunes of 2,000-row batches by default).
    public init(
        storage: any ServerStorage, policy: RetentionPolicy, interval: Duration = .seconds(3600), batchSize: Int = 2_000,
        logger: Logger, now: @escaping @Sendable () -> Int64 = Timestamp.nowMilliseconds
    ) {
        self.storage = storage
        self.policy = policy
        self.interval = interval
        self.batchSize = batchSize
        self.logger = logger
        self.now = now
    }

    /// Prunes until graceful shutdown. A failed prune is logged and retried at the next interval.
    public func run() async throws {
        guard policy.raw != nil || policy.minuteRollups != nil || policy.hourRollups != nil else {
            // Nothing to prune, but returning early would end the whole service group.
            try? await gracefulShutdown()
            return
        }
        // A short delay first, so that a restarting server serves its reconnecting gateways before it cleans up.
        var delay: Duration = .seconds(30)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let wait = delay
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            } catch {
                return
            }
            delay = interval
            do {
                // A prune cut short by shutdown loses only its current batch (rolled back).
                _ = try await cancelWhenGracefulShutdown { try await pruneOnce() }
            } catch is CancellationError {
                return
            } catch {
                // A backend may wrap the cancellation (PostgreSQL's transaction error does).
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                logger.error("retention: prune failed, next try in \(interval): \(error)")
            }
        }
    }

    /// One prune with the cutoffs of `now` (ms since 1970); returns what it deleted.
    @discardableResult
    public func pruneOnce(now time: Int64? = nil) async throws -> PruneReport {
        let report = try await storage.prune(policy.cutoffs(now: time ?? now()), batchSize: batchSize)
        if report.total > 0 {
            logger.info("""
                retention: deleted \(report.readings) readings, \(report.events) events, \(report.commands) commands, \
                \(report.minuteCells) minute and \(report.hourCells) hour rollup cells
                """)
        }
        return report
    }
}
