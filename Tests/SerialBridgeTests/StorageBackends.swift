import Logging
import SerialBridgeServer
import ServiceLifecycle
import Testing

/// The storage backends the storage and API tests run against: SQLite always, PostgreSQL where it
/// is installed (always under CI=true, where a missing PostgreSQL fails the test instead).
enum StorageBackend: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// The backends to test here.
    static var available: [StorageBackend] {
        postgresAvailable() ? [.sqlite, .postgres] : [.sqlite]
    }

    /// A fresh, empty database: a SQLite file in `directory`, or a new database in the test cluster.
    func database(in directory: TemporaryDirectory) async throws -> ServerDatabase {
        switch self {
        case .sqlite: return .sqlite(path: directory.file("db.sqlite"))
        case .postgres: return try await ServerDatabase(parsing: PostgresTestCluster.newDatabase())
        }
    }

    /// What a ``TestServer`` should use instead of its own SQLite file: nil for SQLite, a fresh
    /// database for PostgreSQL (pass it on with `configure: { $0.database = database }`).
    func serverDatabase() async throws -> ServerDatabase? {
        switch self {
        case .sqlite: nil
        case .postgres: try await ServerDatabase(parsing: PostgresTestCluster.newDatabase())
        }
    }

    /// A fresh storage of this backend, opened (migrated) and running until ``OpenTestStorage/close()``.
    func open(in directory: TemporaryDirectory, logger: Logger = Logger(label: "storage")) async throws -> OpenTestStorage {
        try await OpenTestStorage(database: database(in: directory), logger: logger)
    }
}

/// A storage opened for a test, with its services (PostgreSQL's pool) running in the background.
final class OpenTestStorage: Sendable {
    let storage: any ServerStorage
    let database: ServerDatabase
    private let services: Task<Void, Never>

    init(database: ServerDatabase, logger: Logger) async throws {
        self.database = database
        let opened = try await database.open(logger: logger)
        storage = opened.storage
        let running = opened.services
        services = Task {
            await withTaskGroup(of: Void.self) { group in
                for service in running { group.addTask { try? await service.run() } }
            }
        }
    }

    /// Stops the storage's services (queries fail afterwards); usable in `defer`.
    func close() {
        services.cancel()
    }

    /// Stops the storage's services and waits until they have.
    func closeAndWait() async {
        services.cancel()
        await services.value
    }
}

