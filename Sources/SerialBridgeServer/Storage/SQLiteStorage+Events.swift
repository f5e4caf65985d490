import GRDB
import SerialBridgeJSON
import SerialBridgeProtocol

extension SQLiteStorage {
    public func insert(_ event: DeviceStateChange, receivedAt: Int64) async throws -> Bool {
        try await pool.write { db in
            var counters = JSONWriter(capacity: 128)
            counters.beginObject()
            for (name, value) in event.counters {
                counters.key(name)
                counters.integer(value)
            }
            counters.endObject()
            let countersJSON = String(decoding: counters.bytes, as: UTF8.self)
            if let mark = try Self.prunedMark(event.gateway, db), event.id <= mark { return false }
            try db.execute(sql: """
                INSERT OR IGNORE INTO device_events (gateway, epoch, seq, device, event, profile, path, ts, received, message, counters)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    event.gateway, event.id.epoch, event.id.sequence, event.device, event.kind.rawValue, event.profile,
                    event.path, event.timestamp, receivedAt, event.message, countersJSON,
                ])
            guard db.changesCount > 0 else { return false }
            let newest = try Row.fetchOne(db, sql: """
                SELECT epoch, seq FROM device_events WHERE gateway = ? AND device = ? ORDER BY epoch DESC, seq DESC LIMIT 1
                """, arguments: [event.gateway, event.device])
            if let newest, newest["epoch"] == event.id.epoch, newest["seq"] == event.id.sequence {
                // Commands come with `attached` only: other events keep the list already known.
                try db.execute(sql: """
                    INSERT INTO device_state (gateway, device, state, ts, message, counters, commands) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (gateway, device) DO UPDATE SET
                        state = excluded.state, ts = excluded.ts, message = excluded.message, counters = excluded.counters,
                        commands = COALESCE(excluded.commands, device_state.commands)
                    """, arguments: [
                        event.gateway, event.device, event.kind.rawValue, event.timestamp, event.message, countersJSON,
                        event.commands.map(CommandDescription.json),
                    ])
            }
            return true
        }
    }

    public func recordGatewayEvent(gateway: String, kind: GatewayEventKind, at time: Int64, reason: String?) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO gateway_events (gateway, kind, ts, reason) VALUES (?, ?, ?, ?)",
                arguments: [gateway, kind.rawValue, time, reason]
            )
        }
    }

    public func events(_ query: EventQuery) async throws -> [StoredEvent] {
        try await pool.read { db in
            var events = try Self.deviceEvents(query, db)
            if query.device == nil { events += try Self.gatewayEvents(query, db) }
            // Both lists are newest first; the merge keeps the newest `limit`, then turns them around.
            events.sort { $0.timestamp > $1.timestamp }
            return Array(events.prefix(query.limit).reversed())
        }
    }

    /// The conditions shared by both event tables, on columns `gateway` and `ts`.
    private static func conditions(_ query: EventQuery) -> (sql: String, arguments: StatementArguments) {
        var clauses: [String] = []
        var arguments = StatementArguments()
        if let gateway = query.gateway {
            clauses.append("gateway = ?")
            arguments += [gateway]
        }
        if let device = query.device {
            clauses.append("device = ?")
            arguments += [device]
        }
        if let from = query.from {
            clauses.append("ts >= ?")
            arguments += [from]
        }
        if let to = query.to {
            clauses.append("ts <= ?")
            arguments += [to]
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }

    private static func deviceEvents(_ query: EventQuery, _ db: Database) throws -> [StoredEvent] {
        let (filter, arguments) = conditions(query)
        return try Row.fetchAll(db, sql: """
            SELECT gateway, epoch, seq, device, event, profile, path, ts, message, counters FROM device_events
            \(filter) ORDER BY ts DESC, epoch DESC, seq DESC LIMIT ?
            """, arguments: arguments + [query.limit]).map { row in
            StoredEvent(
                gateway: row["gateway"],
                subject: .device(
                    device: row["device"], id: ReadingID(epoch: row["epoch"], sequence: row["seq"]),
                    profile: row["profile"], path: row["path"], countersJSON: row["counters"]
                ),
                kind: row["event"], timestamp: row["ts"], message: row["message"]
            )
        }
    }

    private static func gatewayEvents(_ query: EventQuery, _ db: Database) throws -> [StoredEvent] {
        let (filter, arguments) = conditions(query)
        return try Row.fetchAll(db, sql: """
            SELECT gateway, kind, ts, reason FROM gateway_events \(filter) ORDER BY ts DESC, id DESC LIMIT ?
            """, arguments: arguments + [query.limit]).map { row in
            StoredEvent(gateway: row["gateway"], subject: .gateway, kind: row["kind"], timestamp: row["ts"], message: row["reason"])
        }
    }
}
