import PostgresNIO
import SerialBridgeJSON
import SerialBridgeProtocol

extension PostgresStorage {
    public func insert(_ event: DeviceStateChange, receivedAt: Int64) async throws -> Bool {
        var counters = JSONWriter(capacity: 128)
        counters.beginObject()
        for (name, value) in event.counters {
            counters.key(name)
            counters.integer(value)
        }
        counters.endObject()
        let countersJSON = String(decoding: counters.bytes, as: UTF8.self)
        let commands = event.commands.map(CommandDescription.json)
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            // The gateway's mark row, locked: events share readings' identities and marks.
            let marks = try await connection.query("""
                INSERT INTO gateway_marks AS m (gateway, horizon) VALUES (\(event.gateway), (SELECT raw_cutoff FROM retention_state))
                ON CONFLICT (gateway) DO UPDATE SET gateway = excluded.gateway
                RETURNING pruned_epoch, pruned_seq
                """, logger: logger)
            for try await (epoch, sequence) in marks.decode((Int64?, Int64?).self) {
                if let pruned = PostgresReadingWriter.identity(epoch, sequence), event.id <= pruned { return false }
            }
            let inserted = try await connection.query("""
                INSERT INTO device_events (gateway, epoch, seq, device, event, profile, path, ts, received, message, counters)
                VALUES (\(event.gateway), \(event.id.epoch), \(event.id.sequence), \(event.device), \(event.kind.rawValue),
                        \(event.profile), \(event.path), \(event.timestamp), \(receivedAt), \(event.message), \(countersJSON))
                ON CONFLICT DO NOTHING RETURNING 1
                """, logger: logger)
            var isNew = false
            for try await _ in inserted.decode(Int32.self) { isNew = true }
            guard isNew else { return false }
            try await connection.query("""
                UPDATE gateway_marks SET epoch = \(event.id.epoch), seq = \(event.id.sequence)
                WHERE gateway = \(event.gateway) AND (epoch IS NULL OR (\(event.id.epoch), \(event.id.sequence)) > (epoch, seq))
                """, logger: logger)
            let newest = try await connection.query("""
                SELECT epoch, seq FROM device_events WHERE gateway = \(event.gateway) AND device = \(event.device)
                ORDER BY epoch DESC, seq DESC LIMIT 1
                """, logger: logger)
            var isNewest = false
            for try await (epoch, sequence) in newest.decode((Int64, Int64).self) {
                isNewest = ReadingID(epoch: epoch, sequence: sequence) == event.id
            }
            if isNewest {
                // Commands come with `attached` only: other events keep the list already known.
                try await connection.query("""
                    INSERT INTO device_state AS s (gateway, device, state, ts, message, counters, commands)
                    VALUES (\(event.gateway), \(event.device), \(event.kind.rawValue), \(event.timestamp), \(event.message),
                            \(countersJSON), \(commands))
                    ON CONFLICT (gateway, device) DO UPDATE SET
                        state = excluded.state, ts = excluded.ts, message = excluded.message, counters = excluded.counters,
                        commands = COALESCE(excluded.commands, s.commands)
                    """, logger: logger)
            }
            return true
        }
    }

    public func recordGatewayEvent(gateway: String, kind: GatewayEventKind, at time: Int64, reason: String?) async throws {
        try await client.query(
            "INSERT INTO gateway_events (gateway, kind, ts, reason) VALUES (\(gateway), \(kind.rawValue), \(time), \(reason))",
            logger: logger
        )
    }

    public func events(_ query: EventQuery) async throws -> [StoredEvent] {
        var events = try await deviceEvents(query)
        if query.device == nil { events += try await gatewayEvents(query) }
        // Both lists are newest first; the merge keeps the newest `limit`, then turns them around.
        events.sort { $0.timestamp > $1.timestamp }
        return Array(events.prefix(query.limit).reversed())
    }

    /// The conditions shared by both event tables, on columns `gateway` and `ts`, as SQL with
    /// numbered parameters and their values.
    private static func conditions(_ query: EventQuery) -> (sql: String, bindings: PostgresBindings) {
        var clauses: [String] = []
        var bindings = PostgresBindings()
        if let gateway = query.gateway {
            bindings.append(gateway)
            clauses.append("gateway = $\(bindings.count)")
        }
        if let device = query.device {
            bindings.append(device)
            clauses.append("device = $\(bindings.count)")
        }
        if let from = query.from {
            bindings.append(from)
            clauses.append("ts >= $\(bindings.count)")
        }
        if let to = query.to {
            bindings.append(to)
            clauses.append("ts <= $\(bindings.count)")
        }
        bindings.append(Int64(query.limit))
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), bindings)
    }

    private func deviceEvents(_ query: EventQuery) async throws -> [StoredEvent] {
        let (filter, bindings) = Self.conditions(query)
        let rows = try await client.query(PostgresQuery(unsafeSQL: """
            SELECT gateway, epoch, seq, device, event, profile, path, ts, message, counters FROM device_events
            \(filter) ORDER BY ts DESC, epoch DESC, seq DESC LIMIT $\(bindings.count)
            """, binds: bindings), logger: logger)
        var events: [StoredEvent] = []
        let decoded = rows.decode((String, Int64, Int64, String, String, String, String, Int64, String?, String).self)
        for try await (gateway, epoch, sequence, device, kind, profile, path, timestamp, message, counters) in decoded {
            events.append(StoredEvent(
                gateway: gateway,
                subject: .device(device: device, id: ReadingID(epoch: epoch, sequence: sequence), profile: profile, path: path, countersJSON: counters),
                kind: kind, timestamp: timestamp, message: message
            ))
        }
        return events
    }

    private func gatewayEvents(_ query: EventQuery) async throws -> [StoredEvent] {
        let (filter, bindings) = Self.conditions(query)
        let rows = try await client.query(PostgresQuery(unsafeSQL: """
            SELECT gateway, kind, ts, reason FROM gateway_events \(filter) ORDER BY ts DESC, id DESC LIMIT $\(bindings.count)
            """, binds: bindings), logger: logger)
        var events: [StoredEvent] = []
        for try await (gateway, kind, timestamp, reason) in rows.decode((String, String, Int64, String?).self) {
            events.append(StoredEvent(gateway: gateway, subject: .gateway, kind: kind, timestamp: timestamp, message: reason))
        }
        return events
    }
}
