import Logging
import PostgresNIO

/// The PostgreSQL schema, as numbered migrations applied at start and recorded in
/// `schema_migrations`.
///
/// Migrations are append-only: a released one is never edited, a change is a new one. Several
/// server instances may start at once against one database: each takes a session-level advisory
/// lock (``migrationLock``) around reading and applying migrations, so exactly one applies each
/// migration and the others find it recorded. Each migration runs in its own transaction with its
/// row in `schema_migrations`, so a failed one leaves nothing half done.
///
/// Design notes (docs/SERVER.md, "PostgreSQL"):
/// - `readings` is partitioned by `ts` (RANGE, one partition per UTC day, ``PostgresPartitions``),
///   with a DEFAULT partition for timestamps no day partition covers, so no timestamp ever fails an
///   insert. Retention drops whole day partitions.
/// - A unique index on a partitioned table must contain the partition key, so (gateway, epoch, seq)
///   cannot be unique by itself there. Dedupe is instead decided under a per-gateway row lock in
///   `gateway_marks` (see ``PostgresReadingWriter``); the unique index on (gateway, epoch, seq, ts) is
///   the database's own backstop (a resend carries the same timestamp).
enum PostgresSchema {
    /// One migration: its number, name and statements (run in order, in one transaction).
    struct Migration: Sendable {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// The advisory lock key held while migrating (an arbitrary constant: "SBmigr" in ASCII).
    static let migrationLock: Int64 = 0x5342_6D69_6772

    static let migrations: [Migration] = [
        Migration(version: 1, name: "readings-devices-events-commands-rollups", statements: [
            """
            CREATE TABLE gateways (
                gateway text PRIMARY KEY,
                software text NOT NULL,
                epoch bigint NOT NULL,
                dropped bigint,
                seen bigint NOT NULL
            )
            """,
            // Per gateway: the newest identity stored (the `welcome` mark and the dedupe high-water
            // mark), the newest identity retention deleted, and the timestamp before which readings
            // are no longer stored (the raw retention cutoff when it last ran).
            """
            CREATE TABLE gateway_marks (
                gateway text PRIMARY KEY,
                epoch bigint,
                seq bigint,
                pruned_epoch bigint,
                pruned_seq bigint,
                horizon bigint
            )
            """,
            // The raw retention cutoff of the last prune: new gateways' rows in gateway_marks start from it.
            "CREATE TABLE retention_state (id int PRIMARY KEY CHECK (id = 1), raw_cutoff bigint)",
            "INSERT INTO retention_state (id, raw_cutoff) VALUES (1, NULL)",
            """
            CREATE TABLE readings (
                gateway text NOT NULL,
                epoch bigint NOT NULL,
                seq bigint NOT NULL,
                device text NOT NULL,
                profile text NOT NULL,
                ts bigint NOT NULL,
                received bigint NOT NULL,
                vals text NOT NULL,
                out_of_range text
            ) PARTITION BY RANGE (ts)
            """,
            "CREATE UNIQUE INDEX readings_identity ON readings (gateway, epoch, seq, ts)",
            "CREATE INDEX readings_by_device ON readings (gateway, device, epoch, seq)",
            "CREATE INDEX readings_by_time ON readings (gateway, device, ts)",
            "CREATE TABLE \(PostgresPartitions.defaultPartition) PARTITION OF readings DEFAULT",
            """
            CREATE TABLE devices (
                gateway text NOT NULL,
                device text NOT NULL,
                profile text NOT NULL,
                last_ts bigint NOT NULL,
                last_vals text NOT NULL,
                units text NOT NULL,
                readings bigint NOT NULL,
                last_out_of_range text,
                PRIMARY KEY (gateway, device)
            )
            """,
            """
            CREATE TABLE device_events (
                gateway text NOT NULL,
                epoch bigint NOT NULL,
                seq bigint NOT NULL,
                device text NOT NULL,
                event text NOT NULL,
                profile text NOT NULL,
                path text NOT NULL,
                ts bigint NOT NULL,
                received bigint NOT NULL,
                message text,
                counters text NOT NULL,
                PRIMARY KEY (gateway, epoch, seq)
            )
            """,
            "CREATE INDEX device_events_by_time ON device_events (ts)",
            "CREATE INDEX device_events_by_device ON device_events (gateway, device, ts)",
            """
            CREATE TABLE device_state (
                gateway text NOT NULL,
                device text NOT NULL,
                state text NOT NULL,
                ts bigint NOT NULL,
                message text,
                counters text NOT NULL,
                commands text,
                PRIMARY KEY (gateway, device)
            )
            """,
            """
            CREATE TABLE gateway_events (
                id bigserial PRIMARY KEY,
                gateway text NOT NULL,
                kind text NOT NULL,
                ts bigint NOT NULL,
                reason text
            )
            """,
            "CREATE INDEX gateway_events_by_time ON gateway_events (ts)",
            "CREATE INDEX gateway_events_by_gateway ON gateway_events (gateway, ts)",
            """
            CREATE TABLE commands (
                id text PRIMARY KEY,
                gateway text NOT NULL,
                device text NOT NULL,
                name text NOT NULL,
                arguments text NOT NULL,
                status text NOT NULL,
                message text,
                response text,
                exception_code bigint,
                requested_by text,
                requested bigint NOT NULL,
                finished bigint
            )
            """,
            "CREATE INDEX commands_by_device ON commands (gateway, device, requested)",
            "CREATE INDEX commands_by_time ON commands (requested)",
        ] + RollupResolution.allCases.map { resolution in
            """
            CREATE TABLE \(rollupTable(resolution)) (
                gateway text NOT NULL,
                device text NOT NULL,
                bucket bigint NOT NULL,
                name text NOT NULL,
                min double precision NOT NULL,
                max double precision NOT NULL,
                sum double precision NOT NULL,
                count bigint NOT NULL,
                first_ts bigint NOT NULL,
                PRIMARY KEY (gateway, device, bucket, name)
            )
            """
        }),
        // Gateway tokens and users shared by every instance (PostgresCredentials). Any change to
        // either table bumps its counter in auth_revision (a statement trigger, so hand-written SQL
        // counts too), which instances poll to reload only what changed.
        Migration(version: 2, name: "gateway-tokens-users", statements: [
            """
            CREATE TABLE gateway_tokens (
                hash bytea PRIMARY KEY CHECK (length(hash) = 32),
                gateway text NOT NULL,
                created text NOT NULL,
                revoked text
            )
            """,
            "CREATE INDEX gateway_tokens_gateway ON gateway_tokens (gateway)",
            "CREATE TABLE server_users (name text PRIMARY KEY, hash text NOT NULL)",
            "CREATE TABLE auth_revision (tokens bigint NOT NULL, users bigint NOT NULL)",
            "INSERT INTO auth_revision (tokens, users) VALUES (0, 0)",
            """
            CREATE FUNCTION bump_token_revision() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN UPDATE auth_revision SET tokens = tokens + 1; RETURN NULL; END $$
            """,
            """
            CREATE FUNCTION bump_user_revision() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN UPDATE auth_revision SET users = users + 1; RETURN NULL; END $$
            """,
            """
            CREATE TRIGGER gateway_tokens_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gateway_tokens
            FOR EACH STATEMENT EXECUTE FUNCTION bump_token_revision()
            """,
            """
            CREATE TRIGGER server_users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON server_users
            FOR EACH STATEMENT EXECUTE FUNCTION bump_user_revision()
            """,
        ]),
        // Dashboard sessions shared by every instance (PostgresSessions): only the SHA-256 of the
        // cookie value, with the database's clock for idle and absolute expiry.
        Migration(version: 3, name: "dashboard-sessions", statements: [
            """
            CREATE TABLE dashboard_sessions (
                hash bytea PRIMARY KEY CHECK (length(hash) = 32),
                user_name text NOT NULL,
                created timestamptz NOT NULL DEFAULT now(),
                last_seen timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_name)",
        ]),
        // Each gateway's latest link report, so that every instance shows it (PostgresStorage+Links).
        Migration(version: 4, name: "gateway-links", statements: [
            """
            CREATE TABLE gateway_links (
                gateway text PRIMARY KEY,
                ts bigint NOT NULL,
                rtt_last_ms bigint,
                rtt_mean_ms double precision,
                rtt_p99_ms bigint,
                missed_beats bigint NOT NULL,
                ending_causes text[] NOT NULL,
                ending_counts bigint[] NOT NULL,
                messages_out bigint NOT NULL,
                bytes_out bigint NOT NULL,
                messages_in bigint NOT NULL,
                bytes_in bigint NOT NULL,
                queue_depth bigint NOT NULL
            )
            """,
        ]),
    ]

    /// The table of a resolution's rollups (a fixed name, never from input).
    static func rollupTable(_ resolution: RollupResolution) -> String {
        SQLiteSchema.rollupTable(resolution)
    }

    /// Applies the migrations `connection`'s database lacks; returns the versions applied.
    @discardableResult
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        // Session-level, so that it spans the migrations' own transactions; waits for another
        // instance that is migrating right now, then finds its work recorded.
        try await connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger)
        do {
            let applied = try await migrateLocked(connection, logger: logger)
            try await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
            return applied
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
            throw error
        }
    }

    private static func migrateLocked(_ connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var done = Set<Int>()
        for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
            done.insert(version)
        }
        var applied: [Int] = []
        for migration in migrations where !done.contains(migration.version) {
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger
                )
            }
            logger.info("PostgreSQL: applied migration \(migration.version) (\(migration.name))")
            applied.append(migration.version)
        }
        return applied
    }
}
