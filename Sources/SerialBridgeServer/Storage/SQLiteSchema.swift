import GRDB

/// The SQLite schema, as numbered migrations applied at open (GRDB records which ran).
///
/// Migrations are append-only: a released one is never edited, a change is a new one. The first
/// is written so that databases made before migrations were recorded pass through it unharmed.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-readings-devices-events", migrate: readingsDevicesEvents)
        migrator.registerMigration("v2-history-events-commands", migrate: historyEventsCommands)
        migrator.registerMigration("v3-device-commands", migrate: deviceCommands)
        return migrator
    }

    /// The schema before migrations were recorded: every statement tolerates a database that has
    /// some or all of it already.
    private static func readingsDevicesEvents(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS readings (
                gateway TEXT NOT NULL,
                epoch INTEGER NOT NULL,
                seq INTEGER NOT NULL,
                device TEXT NOT NULL,
                profile TEXT NOT NULL,
                ts INTEGER NOT NULL,
                received INTEGER NOT NULL,
                vals TEXT NOT NULL,
                PRIMARY KEY (gateway, epoch, seq)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS readings_by_device ON readings (gateway, device, epoch, seq);
            CREATE TABLE IF NOT EXISTS devices (
                gateway TEXT NOT NULL,
                device TEXT NOT NULL,
                profile TEXT NOT NULL,
                last_ts INTEGER NOT NULL,
                last_vals TEXT NOT NULL,
                units TEXT NOT NULL,
                readings INTEGER NOT NULL,
                PRIMARY KEY (gateway, device)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS device_events (
                gateway TEXT NOT NULL,
                epoch INTEGER NOT NULL,
                seq INTEGER NOT NULL,
                device TEXT NOT NULL,
                event TEXT NOT NULL,
                profile TEXT NOT NULL,
                path TEXT NOT NULL,
                ts INTEGER NOT NULL,
                received INTEGER NOT NULL,
                message TEXT,
                counters TEXT NOT NULL,
                PRIMARY KEY (gateway, epoch, seq)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS gateways (
                gateway TEXT NOT NULL PRIMARY KEY,
                software TEXT NOT NULL,
                epoch INTEGER NOT NULL,
                dropped INTEGER,
                seen INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS device_state (
                gateway TEXT NOT NULL,
                device TEXT NOT NULL,
                state TEXT NOT NULL,
                ts INTEGER NOT NULL,
                message TEXT,
                counters TEXT NOT NULL,
                PRIMARY KEY (gateway, device)
            ) WITHOUT ROWID;
            """)
        // Columns added before migrations were recorded: older databases get them here.
        if try !columns(of: "readings", db).contains("out_of_range") {
            try db.execute(sql: "ALTER TABLE readings ADD COLUMN out_of_range TEXT")
        }
        if try !columns(of: "devices", db).contains("last_out_of_range") {
            try db.execute(sql: "ALTER TABLE devices ADD COLUMN last_out_of_range TEXT")
        }
    }

    /// The commands each device takes, as its gateway last described them (`attached` events).
    private static func deviceCommands(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE device_state ADD COLUMN commands TEXT")
    }

    /// Time-range access, rollups, gateway events, commands and the retention marks.
    private static func historyEventsCommands(_ db: Database) throws {
        try db.execute(sql: """
            CREATE INDEX readings_by_time ON readings (gateway, device, ts);
            CREATE INDEX device_events_by_time ON device_events (ts);
            CREATE INDEX device_events_by_device ON device_events (gateway, device, ts);
            CREATE TABLE gateway_events (
                id INTEGER PRIMARY KEY,
                gateway TEXT NOT NULL,
                kind TEXT NOT NULL,
                ts INTEGER NOT NULL,
                reason TEXT
            );
            CREATE INDEX gateway_events_by_time ON gateway_events (ts);
            CREATE INDEX gateway_events_by_gateway ON gateway_events (gateway, ts);
            CREATE TABLE commands (
                id TEXT NOT NULL PRIMARY KEY,
                gateway TEXT NOT NULL,
                device TEXT NOT NULL,
                name TEXT NOT NULL,
                arguments TEXT NOT NULL,
                status TEXT NOT NULL,
                message TEXT,
                response TEXT, -- base64
                exception_code INTEGER,
                requested_by TEXT,
                requested INTEGER NOT NULL,
                finished INTEGER
            ) WITHOUT ROWID;
            CREATE INDEX commands_by_device ON commands (gateway, device, requested);
            CREATE INDEX commands_by_time ON commands (requested);
            -- The newest identity retention has deleted per gateway: `lastStored` and dedupe never go back.
            CREATE TABLE pruned_marks (
                gateway TEXT NOT NULL PRIMARY KEY,
                epoch INTEGER NOT NULL,
                seq INTEGER NOT NULL
            ) WITHOUT ROWID;
            """)
        for resolution in RollupResolution.allCases {
            let table = rollupTable(resolution)
            try db.execute(sql: """
                CREATE TABLE \(table) (
                    gateway TEXT NOT NULL,
                    device TEXT NOT NULL,
                    bucket INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    min REAL NOT NULL,
                    max REAL NOT NULL,
                    sum REAL NOT NULL,
                    count INTEGER NOT NULL,
                    first_ts INTEGER NOT NULL,
                    PRIMARY KEY (gateway, device, bucket, name)
                ) WITHOUT ROWID;
                """)
            // Readings stored before rollups existed get theirs now, so their history is downsampled too.
            let width = resolution.milliseconds
            try db.execute(sql: """
                INSERT INTO \(table) (gateway, device, bucket, name, min, max, sum, count, first_ts)
                SELECT readings.gateway, readings.device, (readings.ts / \(width)) * \(width), value.key,
                       MIN(value.value), MAX(value.value), SUM(value.value), COUNT(*), MIN(readings.ts)
                FROM readings, json_each(readings.vals) AS value
                WHERE value.type IN ('integer', 'real') AND readings.ts >= 0
                GROUP BY 1, 2, 3, 4
                """)
        }
    }

    /// The table of a resolution's rollups (a fixed name, never from input).
    static func rollupTable(_ resolution: RollupResolution) -> String {
        switch resolution {
        case .minute: "rollup_minute"
        case .hour: "rollup_hour"
        }
    }

    private static func columns(of table: String, _ db: Database) throws -> [String] {
        try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String }
    }
}
