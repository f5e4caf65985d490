import SerialBridgeJSON
import SerialBridgeParsing

/// How a device that speaks only when asked is polled: the profile's `polling` section.
///
/// The request is written every ``interval``; the first frame that the profile's framing and
/// integrity rules accept (and that starts with ``responsePrefix``, if set) is the answer. No answer
/// within ``timeout``, or a corrupted one, costs an attempt; after ``retries`` more attempts the
/// cycle fails and the device is polled less often, up to ``maxBackoff``, until it answers again.
public struct PollingSpec: Sendable, Hashable {
    /// Time between polls.
    public var interval: Duration
    /// How long to wait for each answer.
    public var timeout: Duration
    /// Extra attempts after a timeout or a corrupted answer.
    public var retries: Int
    /// Longest time between polls of a device that stopped answering.
    public var maxBackoff: Duration
    /// Quiet time the line needs between an answer and the next request.
    public var turnaround: Duration
    /// The request (nil for Modbus profiles, whose requests come from the register map).
    public var request: FrameTemplate?
    /// The answer must start with these bytes (nil: any accepted frame).
    public var responsePrefix: [UInt8]?

    /// Creates a spec.
    public init(
        interval: Duration = .seconds(1), timeout: Duration = .milliseconds(500), retries: Int = 2,
        maxBackoff: Duration = .seconds(60), turnaround: Duration = .zero,
        request: FrameTemplate? = nil, responsePrefix: [UInt8]? = nil
    ) {
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.maxBackoff = maxBackoff
        self.turnaround = turnaround
        self.request = request
        self.responsePrefix = responsePrefix
    }

    /// Reads a `polling` section; `modbus` profiles build their requests from the register map.
    public static func read(_ section: inout JSONObjectReader, modbus: Bool) -> PollingSpec? {
        let interval = section.integer("intervalMs", in: 10...86_400_000) ?? 1000
        let timeout = section.integer("timeoutMs", in: 1...60_000) ?? (modbus ? 200 : 500)
        let retries = section.integer("retries", in: 0...10) ?? 2
        let maxBackoff = section.integer("maxBackoffMs", in: 10...86_400_000) ?? 60_000
        let turnaround = section.integer("turnaroundMs", in: 0...10_000)
        if timeout >= interval {
            section.fail(key: "timeoutMs", "must be less than intervalMs (\(interval))")
        }
        if maxBackoff < interval {
            section.fail(key: "maxBackoffMs", "must not be less than intervalMs (\(interval))")
        }
        var request: FrameTemplate?
        var prefix: [UInt8]?
        if modbus {
            if section.has("request") { section.fail(key: "request", "Modbus profiles build requests from modbus.registers; remove it") }
        } else {
            request = FrameTemplate.read("request", valueKey: "argument", from: &section, required: true)
            if let request, !request.valueNames.isEmpty {
                section.fail(key: "request", "a poll request has no arguments; fixed bytes and checksums only")
            }
            if var response = section.object("response") {
                if let hex = response.string("startsWith") {
                    prefix = Hex.decode(hex)
                    if prefix?.isEmpty ?? true { response.fail(key: "startsWith", "must be pairs of hex digits, e.g. \"FF 86\"") }
                }
                section.absorb(response)
            }
        }
        guard section.isClean else { return nil }
        return PollingSpec(
            interval: .milliseconds(interval), timeout: .milliseconds(timeout), retries: retries,
            maxBackoff: .milliseconds(maxBackoff), turnaround: .milliseconds(turnaround ?? 0),
            request: request, responsePrefix: prefix
        )
    }
}

/// A Modbus RTU device: the profile's `modbus` section.
public struct ModbusSpec: Sendable, Hashable {
    /// Unit id used when the gateway config gives none.
    public var unitId: Int
    /// The register map.
    public var plan: ModbusReadPlan

    /// Creates a spec.
    public init(unitId: Int = 1, registers: [ModbusRegister], maxRegistersPerRequest: Int = ModbusRTU.maxReadCount, maxGap: Int = 0) {
        self.unitId = unitId
        self.plan = ModbusReadPlan(registers: registers, maxCount: maxRegistersPerRequest, maxGap: maxGap)
    }

    /// Reads a `modbus` section.
    public static func read(_ section: inout JSONObjectReader) -> ModbusSpec? {
        let unitId = section.integer("unitId", in: 1...247) ?? 1
        let maxCount = section.integer("maxRegistersPerRequest", in: 1...ModbusRTU.maxReadCount) ?? ModbusRTU.maxReadCount
        let maxGap = section.integer("maxGap", in: 0...ModbusRTU.maxReadCount) ?? 0
        let defaultTable = section.choice("table", ModbusRegister.Table.self) ?? .holding
        var registers: [ModbusRegister] = []
        var names: Set<String> = []
        for item in section.array("registers", required: true) ?? [] {
            var reader = JSONObjectReader(item.value, file: section.file, path: item.path)
            if let register = ModbusRegister.read(&reader, defaultTable: defaultTable) {
                if !names.insert(register.field.name).inserted {
                    reader.fail(key: "name", "another register is already named \"\(register.field.name)\"")
                } else if register.type.words > maxCount {
                    reader.fail(key: "type", "needs \(register.type.words) registers, more than maxRegistersPerRequest (\(maxCount))")
                } else {
                    registers.append(register)
                }
            }
            section.absorb(reader)
        }
        if registers.isEmpty, section.isClean { section.fail(key: "registers", "must list at least one register") }
        guard section.isClean else { return nil }
        return ModbusSpec(unitId: unitId, registers: registers, maxRegistersPerRequest: maxCount, maxGap: maxGap)
    }
}
