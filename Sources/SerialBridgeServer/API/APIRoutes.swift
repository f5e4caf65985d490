import Hummingbird
import SerialBridgeJSON

/// The read-only JSON API under `/api` (docs/API.md): gateways, devices, readings by time range,
/// events, stored command results.
enum APIRoutes {
    /// Registers the read-only routes on `router`.
    static func addReadRoutes<Context: RequestContext>(to router: some RouterMethods<Context>, _ api: APIEnvironment) {
        router.get("/api/gateways") { _, _ in
            await APIResponse.answer(api.logger) {
                let views = try await gatewayViews(api)
                var writer = JSONWriter(capacity: 512 * max(views.count, 1))
                writer.beginArray()
                for view in views { APIJSON.gateway(view, into: &writer) }
                writer.endArray()
                return APIResponse.json(.ok, writer.bytes)
            }
        }
        router.get("/api/gateways/{id}") { _, context in
            await APIResponse.answer(api.logger) {
                let id = try gatewayID(context)
                guard let view = try await gatewayViews(api, only: id).first else { throw APIError.notFound("no gateway \"\(id)\"") }
                return APIResponse.json(.ok, APIJSON.object { APIJSON.gateway(view, into: &$0) })
            }
        }
        router.get("/api/gateways/{id}/devices") { _, context in
            await APIResponse.answer(api.logger) {
                let id = try gatewayID(context)
                try await api.requireKnownGateway(id)
                return APIResponse.json(.ok, APIJSON.devices(try await api.storage.devices(gateway: id)))
            }
        }
        router.get("/api/devices") { _, _ in
            await APIResponse.answer(api.logger) {
                APIResponse.json(.ok, APIJSON.devices(try await api.storage.devices()))
            }
        }
        router.get("/api/devices/{id}") { _, context in
            await APIResponse.answer(api.logger) {
                let device = try await api.knownDevice(try deviceAddress(context))
                return APIResponse.json(.ok, APIJSON.object { APIJSON.device(device, into: &$0) })
            }
        }
        router.get("/api/devices/{id}/readings") { request, context in
            await APIResponse.answer(api.logger) {
                try await readings(api, address: try deviceAddress(context), query: query(request))
            }
        }
        router.get("/api/devices/{id}/commands") { request, context in
            await APIResponse.answer(api.logger) {
                let address = try deviceAddress(context)
                let limit = try query(request).integer("limit", in: 1...1_000) ?? 20
                let commands = try await api.storage.commands(gateway: address.gateway, device: address.device, limit: limit)
                var writer = JSONWriter(capacity: 256 * max(commands.count, 1))
                writer.beginArray()
                for command in commands { APIJSON.command(command, into: &writer) }
                writer.endArray()
                return APIResponse.json(.ok, writer.bytes)
            }
        }
        router.get("/api/commands/{id}") { _, context in
            await APIResponse.answer(api.logger) {
                let id = try context.parameters.require("id")
                guard let command = try await api.storage.command(id: id) else { throw APIError.notFound("no command \"\(id)\"") }
                return APIResponse.json(.ok, APIJSON.object { APIJSON.command(command, into: &$0) })
            }
        }
        router.get("/api/events") { request, _ in
            await APIResponse.answer(api.logger) {
                try await events(api, query: query(request))
            }
        }
    }

    static func query(_ request: Request) -> QueryParameters {
        QueryParameters(request.uri.queryParameters.map { (String($0.key), String($0.value)) })
    }

    static func deviceAddress<Context: RequestContext>(_ context: Context) throws -> DeviceAddress {
        try DeviceAddress.parse(pathSegment: try context.parameters.require("id"))
    }

    static func gatewayID<Context: RequestContext>(_ context: Context) throws -> String {
        let raw = try context.parameters.require("id")
        guard let id = PercentDecoding.decode(raw) else {
            throw APIError.badRequest("gateway id \"\(raw)\" has a bad percent escape or is not UTF-8")
        }
        return id
    }

    private static func gatewayViews(_ api: APIEnvironment, only id: String? = nil) async throws -> [GatewayView] {
        let live = await api.bus.gateways().filter { id == nil || $0.gateway == id }
        let stored: [StoredGateway]
        if let id {
            stored = try await api.storage.gatewayStatus(gateway: id).map { [$0] } ?? []
        } else {
            stored = try await api.storage.gateways()
        }
        let devices = try await api.storage.devices(gateway: id)
        let links = try await (api.storage as? any LinkReportStore)?.links() ?? [:]
        return GatewayView.merge(live: live, stored: stored, devices: devices, links: links)
    }

    /// Newest readings (no range), or a time range answered raw or downsampled.
    private static func readings(_ api: APIEnvironment, address: DeviceAddress, query: QueryParameters) async throws -> Response {
        let request = try HistoryRequest.parse(query, now: api.now())
        let device = try await api.knownDevice(address)
        switch request {
        case .newest(let limit):
            let readings = try await api.storage.readings(gateway: address.gateway, device: address.device, limit: limit)
            return APIResponse.json(.ok, APIJSON.readings(readings))
        case .range(let range):
            let count = range.step != nil ? 0 : try await api.storage.countReadings(
                gateway: address.gateway, device: address.device, from: range.from, to: range.to, atMost: range.points + 1
            )
            let plan = HistoryPlan.plan(range, rawCount: count, cutoffs: api.retention.cutoffs(now: api.now()))
            switch plan {
            case .raw(let limit):
                let readings = try await api.storage.readings(
                    gateway: address.gateway, device: address.device, from: range.from, to: range.to, limit: limit
                )
                return APIResponse.json(.ok, APIJSON.history(device: device, range: range, plan: plan, readings: readings, buckets: []))
            case .buckets(let step, let resolution):
                let buckets = try await api.storage.history(
                    gateway: address.gateway, device: address.device, from: range.from, to: range.to, step: step, resolution: resolution
                )
                return APIResponse.json(.ok, APIJSON.history(device: device, range: range, plan: plan, readings: [], buckets: buckets))
            }
        }
    }

    private static func events(_ api: APIEnvironment, query: QueryParameters) async throws -> Response {
        var gateway = try query.text("gateway")
        var device: String?
        if let id = try query.text("device") {
            let address = try DeviceAddress.parse(id)
            if let gateway, gateway != address.gateway {
                throw APIError.badRequest("device \"\(address)\" is not on gateway \"\(gateway)\"")
            }
            gateway = address.gateway
            device = address.device
        }
        let from = try query.time("from")
        let to = try query.time("to")
        if let from, let to, from > to { throw APIError.badRequest("from (\(from)) must not be after to (\(to))") }
        let limit = try query.integer("limit", in: 1...10_000) ?? 100
        // One more than asked shows whether there were more.
        let events = try await api.storage.events(EventQuery(gateway: gateway, device: device, from: from, to: to, limit: limit + 1))
        let truncated = events.count > limit
        var writer = JSONWriter(capacity: 256 * max(events.count, 1))
        writer.beginObject()
        writer.key("events")
        writer.beginArray()
        for event in events.suffix(limit) { APIJSON.event(event, into: &writer) }
        writer.endArray()
        writer.key("truncated"); writer.bool(truncated)
        writer.endObject()
        return APIResponse.json(.ok, writer.bytes)
    }
}
