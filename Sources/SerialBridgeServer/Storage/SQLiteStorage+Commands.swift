import GRDB
import SerialBridgeJSON
import SerialBridgeProtocol

extension SQLiteStorage {
    public func recordCommand(_ command: CommandRecord) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO commands (id, gateway, device, name, arguments, status, message, response, exception_code,
                                      requested_by, requested, finished)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    command.id, command.gateway, command.device, command.name, CommandArguments.json(command.arguments),
                    command.status, command.message, command.response.map(Base64.encode), command.exceptionCode,
                    command.requestedBy, command.requestedAt, command.finishedAt,
                ])
        }
    }

    public func finishCommand(id: String, result: CommandResultMessage, at time: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE commands SET status = ?, message = ?, response = ?, exception_code = ?, finished = ? WHERE id = ?
                """, arguments: [result.status.rawValue, result.message, result.response.map(Base64.encode), result.exceptionCode, time, id])
        }
    }

    public func command(id: String) async throws -> CommandRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM commands WHERE id = ?", arguments: [id]).map(Self.command)
        }
    }

    public func commands(gateway: String, device: String, limit: Int) async throws -> [CommandRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM commands WHERE gateway = ? AND device = ? ORDER BY requested DESC, id DESC LIMIT ?
                """, arguments: [gateway, device, limit]).reversed().map(Self.command)
        }
    }

    private static func command(_ row: Row) -> CommandRecord {
        var record = CommandRecord(
            id: row["id"], gateway: row["gateway"], device: row["device"], name: row["name"],
            arguments: CommandArguments.parse(row["arguments"]), requestedBy: row["requested_by"], requestedAt: row["requested"]
        )
        record.status = row["status"]
        record.message = row["message"]
        record.response = (row["response"] as String?).flatMap(Base64.decode)
        record.exceptionCode = row["exception_code"]
        record.finishedAt = row["finished"]
        return record
    }
}

/// A command's arguments as stored: a JSON object of numbers, in the order given.
enum CommandArguments {
    static func json(_ arguments: [(String, Double)]) -> String {
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        for (name, value) in arguments {
            writer.key(name)
            writer.float(value)
        }
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The stored object back; anything unreadable (never written by ``json(_:)``) reads as no arguments.
    static func parse(_ text: String) -> [(String, Double)] {
        guard case .object(let pairs)? = try? JSONParser.parse(Array(text.utf8)) else { return [] }
        return pairs.compactMap { name, node in
            switch node {
            case .integer(let value): (name, Double(value))
            case .float(let value): (name, value)
            default: nil
            }
        }
    }
}
