import Hummingbird
import SerialBridgeJSON

/// The API routes that act on devices: sending a command, starting and stopping a raw tap.
enum ControlRoutes {
    /// Registers the routes that change something on a device. They need a logged-in user:
    /// `ServerApplication` registers them on a group behind `RequireUser`.
    static func add<Context: RequestContext>(to router: some RouterMethods<Context>, _ api: APIEnvironment) {
        router.post("/api/devices/{id}/commands") { request, context in
            await APIResponse.answer(api.logger) {
                var request = request
                let address = try APIRoutes.deviceAddress(context)
                let bytes: [UInt8]
                do {
                    bytes = Array(try await request.collectBody(upTo: CommandBody.maxBytes).readableBytesView)
                } catch let error as HTTPError where error.status == .contentTooLarge {
                    throw APIError(.contentTooLarge, "the body must be at most \(CommandBody.maxBytes) bytes")
                }
                let body = try CommandBody.parse(bytes)
                let record = try await send(body, to: address, api)
                return APIResponse.json(.ok, APIJSON.object { APIJSON.command(record, into: &$0) })
            }
        }
        router.post("/api/devices/{id}/tap") { _, context in
            await APIResponse.answer(api.logger) { try await tap(try APIRoutes.deviceAddress(context), start: true, api) }
        }
        router.delete("/api/devices/{id}/tap") { _, context in
            await APIResponse.answer(api.logger) { try await tap(try APIRoutes.deviceAddress(context), start: false, api) }
        }
    }

    /// Stores the command, sends it through the registry, waits for its result (or the timeout),
    /// stores the result and returns the finished record.
    static func send(_ body: CommandBody, to address: DeviceAddress, _ api: APIEnvironment, requestedBy user: String? = nil) async throws -> CommandRecord {
        try await api.requireKnownGateway(address.gateway)
        let record = CommandRecord(
            id: CommandID.make(), gateway: address.gateway, device: address.device, name: body.name,
            arguments: body.arguments, requestedBy: user, requestedAt: api.now()
        )
        try await api.storage.recordCommand(record)
        let result = await api.bus.send(
            command: body.name, to: address.device, on: address.gateway,
            arguments: Dictionary(body.arguments, uniquingKeysWith: { first, _ in first }), timeout: .milliseconds(body.timeoutMs)
        )
        let finishedAt = api.now()
        try await api.storage.finishCommand(id: record.id, result: result, at: finishedAt)
        return record.finished(with: result, at: finishedAt)
    }

    private static func tap(_ address: DeviceAddress, start: Bool, _ api: APIEnvironment) async throws -> Response {
        try await api.requireKnownGateway(address.gateway)
        guard await api.bus.tap(address.device, on: address.gateway, start: start) else {
            throw APIError(.conflict, "gateway \"\(address.gateway)\" is not connected")
        }
        return APIResponse.json(.ok, APIJSON.object { writer in
            writer.beginObject()
            writer.key("id"); writer.string(address.description)
            writer.key("tap"); writer.string(start ? "started" : "stopped")
            writer.endObject()
        })
    }
}

/// Ids of commands stored through the API: 96 random bits in hex, unique across restarts and
/// server instances, and not guessable from one another.
enum CommandID {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for _ in 0..<24 { text.append(digits[Int(generator.next() % 16)]) }
        return String(decoding: text, as: UTF8.self)
    }
}
