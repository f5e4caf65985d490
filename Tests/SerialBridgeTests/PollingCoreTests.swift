import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeProfiles
import Testing

/// The pure parts of polling: Modbus RTU bytes, the RTU framer, the read plan, and the bus
/// scheduler driven by explicit instants (no clock, no sleep).
@Suite("Polling core: Modbus RTU, framer, read plan, bus scheduler")
struct PollingCoreTests {
    static let ms: UInt64 = 1_000_000

    @Test func modbusReadRequestMatchesTheSpecificationExample() {
        // Modbus over Serial Line V1.02 and countless meter manuals: read 2 input registers at 0 of unit 1.
        #expect(Hex.encode(ModbusRTU.readRequest(unit: 1, function: .readInputRegisters, address: 0, count: 2)) == "01 04 00 00 00 02 71 CB")
        // Holding registers 0x006B..0x006D of unit 0x11 (the Modbus application protocol example; CRC from the RTU spec's algorithm).
        #expect(Hex.encode(ModbusRTU.readRequest(unit: 0x11, function: .readHoldingRegisters, address: 0x6B, count: 3)) == "11 03 00 6B 00 03 76 87")
        #expect(Hex.encode(ModbusRTU.writeRequest(unit: 0x11, function: .writeSingleRegister, address: 1, words: [3])) == "11 06 00 01 00 03 9A 9B")
    }

    @Test func rtuFramerCutsResponsesByFunctionAndCRCAcrossReadsAndNoise() {
        let voltage = ModbusRTU.withCRC([1, 4, 4, 0x43, 0x67, 0x80, 0x00])  // 231.5 as float32
        let exception = ModbusRTU.withCRC([1, 0x84, 2])
        let echo = ModbusRTU.withCRC([1, 6, 0, 12, 0, 5])
        var corrupted = voltage
        corrupted[4] ^= 0x01
        // Answers arrive 10 ms apart, byte by byte; a corrupted one leaves a bogus candidate that the
        // next answer's silence gap clears.
        var framer = ModbusRTUFramer(gapNanoseconds: 4 * Self.ms)
        var frames: [[UInt8]] = []
        var rejections: [String] = []
        for (index, answer) in [[0xFF, 0x00] + voltage, corrupted, exception, echo].enumerated() {
            for (offset, byte) in answer.enumerated() {
                [byte].withUnsafeBytes { bytes in
                    framer.feed(bytes, at: UInt64(index) * 10 * Self.ms + UInt64(offset) * 1000 + 1) { event in
                        switch event {
                        case .frame(let frame, _): frames.append(Array(frame))
                        case .rejected(let reason, _): rejections.append(reason)
                        }
                    }
                }
            }
        }
        #expect(frames == [voltage, exception, echo])
        #expect(rejections.contains("crc mismatch"))
        #expect(framer.counters.frames == 3)
    }

    @Test func rtuFramerDropsAPartialFrameAfterTheSilenceGap() {
        let frame = ModbusRTU.withCRC([1, 4, 4, 0x43, 0x67, 0x80, 0x00])
        var framer = ModbusRTUFramer(gapNanoseconds: 4 * Self.ms)
        var frames: [[UInt8]] = []
        var rejections: [String] = []
        func feed(_ bytes: [UInt8], at time: UInt64) {
            bytes.withUnsafeBytes { raw in
                framer.feed(raw, at: time) { event in
                    if case .frame(let body, _) = event { frames.append(Array(body)) }
                    if case .rejected(let reason, _) = event { rejections.append(reason) }
                }
            }
        }
        feed(Array(frame.prefix(4)), at: 100 * Self.ms)
        // 10 ms of silence inside a frame: that start is dropped, the next whole frame passes.
        feed(frame, at: 110 * Self.ms)
        #expect(frames == [frame])
        #expect(rejections == ["silence inside a frame"])
        // Within the gap the pieces join.
        feed(Array(frame.prefix(3)), at: 200 * Self.ms)
        feed(Array(frame.dropFirst(3)), at: 201 * Self.ms)
        #expect(frames == [frame, frame])
        #expect(ModbusRTUFraming.standardGapMicroseconds(baudRate: 9600) == 4011)
        #expect(ModbusRTUFraming.standardGapMicroseconds(baudRate: 115_200) == 1750)
    }

    @Test func registersDecodeWithEitherWordOrder() {
        let field = FieldSpec(name: "x")
        let big = ModbusRegister(field: field, address: 0, type: .f32, wordOrder: .big)
        let little = ModbusRegister(field: field, address: 0, type: .f32, wordOrder: .little)
        #expect(big.decode([0x4367, 0x8000]) == .float(231.5))
        #expect(little.decode([0x8000, 0x4367]) == .float(231.5))
        #expect(big.encode(231.5) == [0x4367, 0x8000])
        #expect(ModbusRegister(field: field, address: 0, type: .i16).decode([0xFFFE]) == .integer(-2))
        #expect(ModbusRegister(field: field, address: 0, type: .u32, wordOrder: .little).decode([0x0002, 0x0001]) == .integer(0x0001_0002))
        #expect(ModbusRegister(field: field, address: 0, type: .f64).decode(big.encode(0) + [0, 0]) == .float(0))
    }

    @Test func theSDM120MapIsReadInThreeRequests() throws {
        let profile = try ProfileLoader.load(file: Repository.profiles + "/eastron-sdm120.json")
        let plan = try #require(profile.modbus?.plan)
        #expect(plan.blocks.map { "\($0.address)+\($0.count)" } == ["0+32", "70+6", "342+2"])
        #expect(plan.requests(unit: 1).first.map(Hex.encode) == "01 04 00 00 00 20 F1 D2")
        #expect(profile.outputFields.map(\.name).prefix(3) == ["voltage", "current", "active_power"])
    }

    // MARK: - Scheduler

    /// Three Modbus devices; `dead` never answers. Every other request is answered 1 ms later.
    func runBus(dead: Set<Int>, until end: UInt64) -> (readings: [Int: [UInt64]], scheduler: BusScheduler, outputs: [BusScheduler.Output]) {
        let registers = [ModbusRegister(field: FieldSpec(name: "v"), table: .input, address: 0, type: .u16)]
        let polling = PollingSpec(interval: .milliseconds(100), timeout: .milliseconds(50), retries: 2, maxBackoff: .seconds(1))
        let devices = (1...3).map { unit in
            PolledDevice(name: "d\(unit)", polling: polling, modbus: ModbusSpec(registers: registers), unit: UInt8(unit))
        }
        var scheduler = BusScheduler(devices: devices, now: 0)
        var readings: [Int: [UInt64]] = [:]
        var outputs: [BusScheduler.Output] = []
        var now: UInt64 = 0
        var pendingAnswer: (at: UInt64, bytes: [UInt8])?
        while now < end {
            scheduler.expire(at: now)
            if let request = scheduler.nextRequest(at: now) {
                let unit = request[0]
                if !dead.contains(Int(unit)) {
                    pendingAnswer = (now + Self.ms, ModbusRTU.withCRC([unit, 4, 2, 0, unit]))
                }
            }
            for output in scheduler.takeOutputs() {
                outputs.append(output)
                if case .reading(let device, _) = output { readings[device + 1, default: []].append(now) }
            }
            // Advance to the next event: an answer or the scheduler's wake-up.
            let next = [pendingAnswer?.at, scheduler.nextWakeup].compactMap { $0 }.min() ?? end
            now = max(now + 1, next)
            if let answer = pendingAnswer, answer.at <= now {
                pendingAnswer = nil
                answer.bytes.withUnsafeBytes { scheduler.receive($0, at: answer.at) }
            }
        }
        return (readings, scheduler, outputs)
    }

    @Test func aDeadSlaveDelaysTheOthersByAtMostItsOwnTimeout() {
        let (readings, scheduler, outputs) = runBus(dead: [3], until: 10_000 * Self.ms)
        for unit in [1, 2] {
            let times = readings[unit] ?? []
            #expect(times.count >= 95, "unit \(unit) polled \(times.count) times in 10 s at 100 ms")
            let worst = zip(times, times.dropFirst()).map { $1 - $0 }.max() ?? 0
            // interval 100 ms + the dead unit's timeout 50 ms + two 1 ms answers
            #expect(worst <= 152 * Self.ms, "unit \(unit): worst gap \(worst / Self.ms) ms")
        }
        #expect(readings[3] == nil)
        let dead = scheduler.counters(of: 2)
        #expect(dead.timeouts >= 3 && dead.retries == 2 && dead.failedCycles >= 1)
        // Backed off: far fewer than the 100 polls a live unit gets (1 s cap → about one per second).
        #expect(dead.requests < 20, "dead unit was asked \(dead.requests) times")
        #expect(!scheduler.isResponding(2))
        let notices = outputs.compactMap { output -> String? in
            if case .responding(2, false, let message) = output { return message }
            return nil
        }
        #expect(notices == ["not answering: no answer within 50 ms (3 attempts)"])
    }

    /// MH-Z19B polled alone; `answer` decides what the "device" sends for each request.
    func runMHZ19(until end: UInt64, answer: (Int) -> [UInt8]?) throws -> (BusScheduler, [BusScheduler.Output]) {
        let profile = try ProfileLoader.load(file: Repository.profiles + "/winsen-mhz19b.json")
        let device = try #require(profile.polledDevice(name: "co2"))
        var scheduler = BusScheduler(devices: [device], now: 0)
        var outputs: [BusScheduler.Output] = []
        var now: UInt64 = 0
        var requests = 0
        while now < end {
            scheduler.expire(at: now)
            if let request = scheduler.nextRequest(at: now) {
                #expect(Hex.encode(request) == "FF 01 86 00 00 00 00 00 79")
                requests += 1
                if let bytes = answer(requests) {
                    var framer = profile.parsing.framing.makeFramer()
                    bytes.withUnsafeBytes { raw in
                        framer.feed(raw, at: now) { event in
                            if case .frame(let frame, _) = event { scheduler.receive(frame, at: now + Self.ms) }
                        }
                    }
                }
            }
            outputs += scheduler.takeOutputs()
            now = max(now + 1, scheduler.nextWakeup ?? end)
        }
        return (scheduler, outputs)
    }

    // Winsen MH-Z19B datasheet, "read CO2 concentration": FF 86 02 60 47 00 00 00 D1 is 608 ppm.
    static let datasheetAnswer: [UInt8] = [0xFF, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xD1]

    @Test func aCorruptedAnswerIsCountedAndRetriedAtOnce() throws {
        var corrupted = Self.datasheetAnswer
        corrupted[3] = 0x61
        let (scheduler, outputs) = try runMHZ19(until: 1500 * Self.ms) { request in request == 1 ? corrupted : Self.datasheetAnswer }
        let counters = scheduler.counters(of: 0)
        #expect(counters.parsing.checksumErrors == 1)
        #expect(counters.retries == 1)
        #expect(counters.requests == 2, "the retry follows the corrupted answer without waiting for the next interval")
        let readings = outputs.compactMap { output -> ParsedReading? in
            if case .reading(_, let reading) = output { return reading }
            return nil
        }
        #expect(readings.map(\.values) == [[.integer(608), .float(31)]])
    }

    @Test func aSilentDeviceTimesOutIsRetriedAndReportedThenComesBack() throws {
        // Requests 1–3 (a cycle with two retries) get nothing; later ones are answered.
        let (scheduler, outputs) = try runMHZ19(until: 20_000 * Self.ms) { request in request <= 3 ? nil : Self.datasheetAnswer }
        let counters = scheduler.counters(of: 0)
        #expect(counters.timeouts == 3)
        #expect(counters.retries == 2)
        #expect(counters.failedCycles == 1)
        #expect(scheduler.isResponding(0))
        let states = outputs.compactMap { output -> Bool? in
            if case .responding(_, let answering, _) = output { return answering }
            return nil
        }
        #expect(states == [false, true])
    }

    @Test func commandsGoFirstAndReportTheirOutcome() throws {
        let profile = try ProfileLoader.load(file: Repository.profiles + "/eastron-sdm120.json")
        let device = try #require(profile.polledDevice(name: "meter", unit: 7))
        var scheduler = BusScheduler(devices: [device], now: 0)
        let command = try #require(profile.commands["setPulseWidth"])
        #expect(throws: CommandSpec.ArgumentError.self) { try command.validate(["ms": 201]) }
        #expect(throws: CommandSpec.ArgumentError.self) { try command.validate([:]) }
        #expect(throws: CommandSpec.ArgumentError.self) { try command.validate(["ms": 100, "extra": 1]) }
        try command.validate(["ms": 100])
        let bytes = command.render(["ms": 100], unit: 7)
        // 100.0 as float32 is 0x42C80000; function 16, two registers at 0x000C.
        #expect(Hex.encode(bytes.dropLast(2)) == "07 10 00 0C 00 02 04 42 C8 00 00")
        scheduler.enqueue(.init(id: 9, device: 0, bytes: bytes, response: command.response, timeout: 500 * Self.ms, retries: 0))
        #expect(scheduler.nextRequest(at: 0) == bytes)
        let exception = ModbusRTU.withCRC([7, 0x90, 2])
        exception.withUnsafeBytes { scheduler.receive($0, at: Self.ms) }
        guard case .commandFinished(9, .exception(2, "illegal data address"))? = scheduler.takeOutputs().first else {
            Issue.record("expected an exception outcome")
            return
        }
        // A command nobody answers times out after its attempts.
        scheduler.enqueue(.init(id: 10, device: 0, bytes: bytes, response: .modbus, timeout: 10 * Self.ms, retries: 1))
        var now = 10 * Self.ms
        var outcome: BusScheduler.CommandOutcome?
        while outcome == nil, now < 1000 * Self.ms {
            scheduler.expire(at: now)
            _ = scheduler.nextRequest(at: now)
            for case .commandFinished(10, let result) in scheduler.takeOutputs() { outcome = result }
            now += Self.ms
        }
        #expect(outcome == .timedOut(attempts: 2))
    }

    @Test func mhz19bCommandsRenderTheDatasheetBytes() throws {
        let profile = try ProfileLoader.load(file: Repository.profiles + "/winsen-mhz19b.json")
        // Datasheet: span point calibration at 2000 ppm is FF 01 88 07 D0 00 00 00 A0; zero is FF 01 87 … 78.
        #expect(profile.commands["calibrateSpan"].map { Hex.encode($0.render(["ppm": 2000], unit: 0)) } == "FF 01 88 07 D0 00 00 00 A0")
        #expect(profile.commands["calibrateZero"].map { Hex.encode($0.render([:], unit: 0)) } == "FF 01 87 00 00 00 00 00 78")
        // The datasheet's answer decodes through the profile's own framing, checksum and decoder.
        var parser = DeviceParser(spec: profile.parsing)
        var values: [[Value?]] = []
        Self.datasheetAnswer.withUnsafeBytes { parser.feed($0, onReading: { values.append($0.values) }) }
        #expect(values == [[.integer(608), .float(31)]])
    }
}
