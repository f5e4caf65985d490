import PostgresNIO
import SerialBridgeJSON
import SerialBridgeProtocol

extension PostgresStorage {
    public func recordCommand(_ command: CommandRecord) async throws {
        try await client.query("""
            INSERT INTO commands (id, gateway, device, name, arguments, status, message, response, exception_code,
                                  requested_by, requested, finished)
            VALUES (\(command.id), \(command.gateway), \(command.device), \(command.name), \(CommandArguments.json(command.arguments)),
                    \(command.status), \(command.message), \(command.response.map(Base64.encode)), \(command.exceptionCode.map(Int64.init)),
                    \(command.requestedBy), \(command.requestedAt), \(command.finishedAt))
            """, logger: logger)
    }

    public func finishCommand(id: String, result: CommandResultMessage, at time: Int64) async throws {
        try await client.query("""
            UPDATE commands SET status = \(result.status.rawValue), message = \(result.message),
                response = \(result.response.map(Base64.encode)), exception_code = \(result.exceptionCode.map(Int64.init)), finished = \(time)
            WHERE id = \(id)
            """, logger: logger)
    }

    public func command(id: String) async throws -> CommandRecord? {
        try await commandRecords(client.query("\(unescaped: Self.commandColumns) WHERE id = \(id)", logger: logger)).first
    }

    public func commands(gateway: String, device: String, limit: Int) async throws -> [CommandRecord] {
        try await commandRecords(client.query("""
            \(unescaped: Self.commandColumns) WHERE gateway = \(gateway) AND device = \(device)
            ORDER BY requested DESC, id COLLATE "C" DESC LIMIT \(Int64(limit))
            """, logger: logger)).reversed()
    }

    private static let commandColumns = """
        SELECT id, gateway, device, name, arguments, status, message, response, exception_code, requested_by, requested, finished
        FROM commands
        """

    private func commandRecords(_ rows: PostgresRowSequence) async throws -> [CommandRecord] {
        var records: [CommandRecord] = []
        let decoded = rows.decode((String, String, String, String, String, String, String?, String?, Int64?, String?, Int64, Int64?).self)
        for try await (id, gateway, device, name, arguments, status, message, response, code, requestedBy, requested, finished) in decoded {
            var record = CommandRecord(
                id: id, gateway: gateway, device: device, name: name, arguments: CommandArguments.parse(arguments),
                requestedBy: requestedBy, requestedAt: requested
            )
            record.status = status
            record.message = message
            record.response = response.flatMap(Base64.decode)
            record.exceptionCode = code.map(Int.init)
            record.finishedAt = finished
            records.append(record)
        }
        return records
    }
}
