import Logging
import PostgresNIO

/// The bus's tables, created when missing (idempotent, under an advisory lock so that instances
/// starting together do not race). They hold only short-lived state; dropping them loses nothing
/// that the instances do not write again within a heartbeat.
enum ClusterSchema {
    /// The LISTEN/NOTIFY channel every instance listens on.
    static let channel = "serialbridge_cluster"

    /// Serialises schema set-up across instances (an arbitrary constant).
    static let lockKey: Int64 = 0x5342_434C_5553

    static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS cluster_instances (
            id text PRIMARY KEY,
            started_at timestamptz NOT NULL DEFAULT now(),
            heartbeat_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS cluster_gateways (
            gateway text PRIMARY KEY,
            instance text NOT NULL,
            connection bigint NOT NULL,
            connected_at bigint NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS cluster_gateways_instance ON cluster_gateways (instance)",
        """
        CREATE TABLE IF NOT EXISTS cluster_messages (
            id bigserial PRIMARY KEY,
            payload text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
    ]

    /// Creates what is missing, on `connection`.
    static func prepare(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger).collect()
        do {
            for statement in statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).collect()
            }
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger).collect()
            throw error
        }
        try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger).collect()
    }
}
