import Foundation
import Logging
import SerialBridgeGateway
import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeSerial
import SerialBridgeSimulator
import Synchronization
import Testing

/// A real pymodbus RTU slave serving the SDM120 register map behind a pty pair
/// (scripts/fixtures/modbus-rtu-slave.py): an implementation of Modbus independent of ours.
final class ModbusSlave: Sendable {
    let process: Process
    let input: Pipe
    let path: String

    init(units: [Int]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Repository.root.appendingPathComponent("scripts/fixtures/modbus-rtu-slave.py").path,
                             "--units", units.map(String.init).joined(separator: ",")]
        let output = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The script prints one line once it answers: "READY <pty path>".
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let first = byte.first else { break }
            if first == 0x0A { break }
            line.append(first)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY ") else {
            process.terminate()
            throw TimedOut(what: "modbus slave did not start (is pymodbus installed? pip install pymodbus==3.16.1 pyserial): \(text)")
        }
        self.process = process
        self.input = input
        self.path = String(text.dropFirst(6))
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// A gateway config with arbitrary `ports` and `buses` JSON, profiles from `profiles`.
func writeGatewayConfig(in dir: TemporaryDirectory, serverPort: Int, profiles: String, ports: String = "[]", buses: String = "[]") throws -> String {
    try dir.write("token", TestServer.token + "\n")
    try dir.write("gateway.json", """
    {
      "gatewayId": "gw-test",
      "server": { "url": "ws://127.0.0.1:\(serverPort)/gateway/v1", "tokenFile": "token" },
      "stateDirectory": "state",
      "profileFolders": ["\(profiles)"],
      "ports": \(ports),
      "buses": \(buses),
      "discovery": false,
      "reconnect": { "initialDelayMs": 20, "maxDelayMs": 200 },
      "metrics": { "listen": "127.0.0.1:0" },
      "logLevel": "debug"
    }
    """)
    return dir.file("gateway.json")
}

/// A shipped profile copied into `dir` with a new name and faster polling, so tests take seconds.
func fastProfile(_ shipped: String, as name: String, in dir: TemporaryDirectory, intervalMs: Int, timeoutMs: Int, maxBackoffMs: Int = 1000) throws {
    var text = try String(contentsOfFile: Repository.profiles + "/\(shipped).json", encoding: .utf8)
    text = text.replacingOccurrences(of: "\"name\": \"\(shipped)\"", with: "\"name\": \"\(name)\"")
    text = text.replacingOccurrences(of: "\"$schema\": \"./schema/device-profile.schema.json\",", with: "")
    let polling = try #require(text.range(of: #""intervalMs": \d+, "timeoutMs": \d+"#, options: .regularExpression)
        ?? text.range(of: #""intervalMs": \d+,\s*"timeoutMs": \d+"#, options: .regularExpression))
    // A short backoff cap: a device that misses polls while the machine is loaded recovers in time.
    text.replaceSubrange(polling, with: "\"intervalMs\": \(intervalMs), \"timeoutMs\": \(timeoutMs), \"maxBackoffMs\": \(maxBackoffMs)")
    try FileManager.default.createDirectory(atPath: dir.file("profiles"), withIntermediateDirectories: true)
    try dir.write("profiles/\(name).json", text)
}

@Suite("Polled devices: Modbus RTU against pymodbus, a bus with a dead slave, MH-Z19B faults, commands", .serialized)
struct PolledDeviceTests {
    static var pymodbusRequired: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static func slave(units: [Int]) async throws -> ModbusSlave? {
        do {
            return try await offThePool { try ModbusSlave(units: units) }
        } catch {
            if pymodbusRequired { throw error }
            print("skipped: \(error)")
            return nil
        }
    }

    @Test func sdm120ReadingsCarryTheValuesAPymodbusSlaveServes() async throws {
        guard let slave = try await Self.slave(units: [1]) else { return }
        defer { slave.stop() }
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let dir = try TemporaryDirectory()
        // The shipped map with timeouts a loaded test machine and a Python slave can keep.
        try fastProfile("eastron-sdm120", as: "eastron-sdm120", in: dir, intervalMs: 1000, timeoutMs: 900)
        let config = try writeGatewayConfig(in: dir, serverPort: server.port, profiles: dir.file("profiles"), buses: """
            [{ "path": "\(slave.path)", "serial": { "baudRate": 9600 }, "devices": [{ "device": "meter-1", "profile": "eastron-sdm120", "unitId": 1 }] }]
            """)
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        try await eventually("two SDM120 readings stored", logs: logs) {
            try await server.store.readings(gateway: "gw-test", device: "meter-1", limit: 10).count >= 2
        }
        let reading = try #require(try await server.store.readings(gateway: "gw-test", device: "meter-1", limit: 1).first)
        // The values scripts/fixtures/modbus-rtu-slave.py serves for unit 1.
        #expect(reading.valuesJSON == #"{"voltage":231.5,"current":1.25,"active_power":288.125,"apparent_power":300.0,"reactive_power":50.0,"power_factor":0.96,"frequency":50.02,"import_energy":1234.5,"export_energy":0.75,"total_energy":1235.25}"#)

        // Commands go through the same line: a write the meter accepts, and one it refuses.
        let accepted = await gateway.gateway.send(command: "setPulseWidth", to: "meter-1", arguments: ["ms": 100])
        guard case .answered(let echo) = accepted else {
            Issue.record("setPulseWidth: \(accepted)")
            return
        }
        #expect(Hex.encode(echo.prefix(6)) == "01 10 00 0C 00 02")
        let refused = await gateway.gateway.send(command: "resetEnergy", to: "meter-1")
        #expect(refused == .exception(code: 2, name: "illegal data address"))
        let badArgument = await gateway.gateway.send(command: "setPulseWidth", to: "meter-1", arguments: ["ms": 5])
        #expect(badArgument == .failed("argument \"ms\" must be from 60.0 to 200.0, not 5.0"))
        #expect(await gateway.gateway.send(command: "nope", to: "meter-1") == .failed("profile eastron-sdm120 has no command \"nope\" (it has resetEnergy, setPulseWidth)"))

        try await gateway.stop()
        try await server.stop()
    }

    @Test func aSlaveThatNeverAnswersDoesNotStopTheOthers() async throws {
        guard let slave = try await Self.slave(units: [1, 2]) else { return }
        defer { slave.stop() }
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let dir = try TemporaryDirectory()
        try fastProfile("eastron-sdm120", as: "sdm120-fast", in: dir, intervalMs: 100, timeoutMs: 50)
        let config = try writeGatewayConfig(in: dir, serverPort: server.port, profiles: dir.file("profiles"), buses: """
            [{ "path": "\(slave.path)", "devices": [
                { "device": "meter-1", "profile": "sdm120-fast", "unitId": 1 },
                { "device": "meter-3", "profile": "sdm120-fast", "unitId": 3 },
                { "device": "meter-2", "profile": "sdm120-fast", "unitId": 2 }
            ] }]
            """)
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        try await eventually("meters 1 and 2 polled 20 times each") {
            let first = try await server.store.readings(gateway: "gw-test", device: "meter-1", limit: 100).count
            let second = try await server.store.readings(gateway: "gw-test", device: "meter-2", limit: 100).count
            return first >= 20 && second >= 20
        }
        try await eventually("meter-3 reported as not answering") {
            logs.count(containing: "device meter-3 error: not answering: no answer within 50 ms (2 attempts)") == 1
        }
        let bus = try #require(gateway.gateway.busSession(for: "meter-3"))
        let counters = bus.counters
        #expect(counters[1].parsing.readings == 0)
        #expect(counters[1].timeouts >= 2)
        // Backed off: the dead unit is asked far less often than the live ones.
        #expect(counters[1].requests * 3 < counters[0].requests, "dead \(counters[1].requests) vs live \(counters[0].requests)")
        #expect(try await server.store.readings(gateway: "gw-test", device: "meter-3", limit: 10).isEmpty)
        try await gateway.stop()
        try await server.stop()
    }

    @Test func mhz19bCorruptedAndSilentAnswersAreCountedRetriedAndReported() async throws {
        // Answers: 1 corrupted, 2 good, 3–5 silent (a whole cycle with two retries), then good again.
        let requests = Mutex(0)
        let device = try ScriptedDevice { received in
            guard received.count >= 9 else { return nil }
            guard received.starts(with: [0xFF, 0x01, 0x86]) else { return [] }
            let count = requests.withLock { count -> Int in
                count += 1
                return count
            }
            switch count {
            case 1: return [0xFF, 0x86, 0x02, 0x61, 0x47, 0x00, 0x00, 0x00, 0xD1]
            case 3...5: return []
            default: return [0xFF, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xD1]
            }
        }
        let player = Task { try await device.run() }
        defer {
            player.cancel()
            device.terminal.close()
        }
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let dir = try TemporaryDirectory()
        // 400 ms: the counts below are exact, so a good answer must never miss its deadline, also on a
        // loaded two-core machine (50 ms once counted a fourth timeout there).
        try fastProfile("winsen-mhz19b", as: "mhz19b-fast", in: dir, intervalMs: 500, timeoutMs: 400)
        let config = try writeGatewayConfig(in: dir, serverPort: server.port, profiles: dir.file("profiles"), ports: """
            [{ "device": "co2", "path": "\(device.terminal.slavePath)", "profile": "mhz19b-fast" }]
            """)
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        try await eventually("answering again after the silence", logs: logs) {
            logs.count(containing: "device co2 attached: answering again") == 1
        }
        #expect(logs.count(containing: "device co2 error: not answering: no answer within 400 ms (3 attempts)") == 1)
        let bus = try #require(gateway.gateway.busSession(for: "co2"))
        let counters = try #require(bus.counters.first)
        #expect(counters.parsing.checksumErrors == 1)
        #expect(counters.timeouts == 3)
        #expect(counters.retries == 3)
        let reading = try #require(try await server.store.readings(gateway: "gw-test", device: "co2", limit: 1).first)
        #expect(reading.valuesJSON == #"{"co2":608,"temperature":31.0}"#)

        // A command without an answer is written as the datasheet spells it.
        let span = await gateway.gateway.send(command: "calibrateSpan", to: "co2", arguments: ["ppm": 2000])
        #expect(span == .sent)
        try await eventually("span command received") {
            device.received.contains { Hex.encode($0) == "FF 01 88 07 D0 00 00 00 A0" }
        }
        let read = await gateway.gateway.send(command: "readCO2", to: "co2")
        #expect(read == .answered([0xFF, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xD1]))
        try await gateway.stop()
        try await server.stop()
    }
}

@Suite("Hot reload: profiles and bindings change under a running gateway", .serialized)
struct HotReloadTests {
    func profile(named name: String, unit: String) -> String {
        """
        {
          "name": "\(name)",
          "framing": { "type": "line" },
          "decoding": { "type": "delimited", "delimiter": ",", "fields": [
            { "name": "temperature", "unit": "\(unit)" }, { "name": "humidity", "unit": "%" } ] }
        }
        """
    }

    @Test func aChangedProfileRestartsOnlyItsSessionAndABrokenOneKeepsTheOld() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("profiles"), withIntermediateDirectories: true)
        try dir.write("profiles/csv-a.json", profile(named: "csv-a", unit: "°C"))
        try dir.write("profiles/csv-b.json", profile(named: "csv-b", unit: "°C"))
        let deviceA = try PseudoTerminal()
        let deviceB = try PseudoTerminal()
        defer {
            deviceA.close()
            deviceB.close()
        }
        let config = try writeGatewayConfig(in: dir, serverPort: server.port, profiles: dir.file("profiles"), ports: """
            [{ "device": "a", "path": "\(deviceA.slavePath)", "profile": "csv-a" },
             { "device": "b", "path": "\(deviceB.slavePath)", "profile": "csv-b" }]
            """)
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let gateway = running.gateway
        @Sendable func count(_ device: String) async throws -> Int {
            try await server.store.readings(gateway: "gw-test", device: device, limit: 1000).count
        }
        try deviceA.write(Array("20.5,40\n".utf8))
        try deviceB.write(Array("21.5,41\n".utf8))
        try await eventually("both devices read") {
            let (a, b) = (try await count("a"), try await count("b"))
            return a == 1 && b == 1
        }

        // Change profile A on disk: only A's session restarts, and A's readings carry the new unit.
        try dir.write("profiles/csv-a.json", profile(named: "csv-a", unit: "K"))
        try await eventually("a restarted") { gateway.sessionStarts[deviceA.slavePath] == 2 }
        #expect(gateway.sessionStarts[deviceB.slavePath] == 1)
        try deviceA.write(Array("293.5,40\n".utf8))
        try await eventually("a's reading in kelvin") {
            let devices = try await server.store.devices()
            return devices.contains { $0.device == "a" && $0.unitsJSON.contains("\"K\"") }
        }

        // A broken profile B: errors as FILE: JSON-PATH: message, the old B keeps running.
        try dir.write("profiles/csv-b.json", #"{ "name": "csv-b", "framing": { "type": "lines" } }"#)
        try await eventually("b's errors logged") {
            logs.count(containing: "csv-b.json: $.framing.type: must be one of") == 1
        }
        #expect(logs.count(containing: "csv-b.json: $.decoding: is required") == 1)
        #expect(gateway.sessionStarts[deviceB.slavePath] == 1)
        #expect(gateway.sessionStarts[deviceA.slavePath] == 2)
        try deviceB.write(Array("22.5,42\n".utf8))
        try await eventually("b still reads with its old profile") { try await count("b") == 2 }

        // SIGHUP's path: an explicit reload with nothing changed restarts nothing.
        await gateway.reload()
        #expect(gateway.sessionStarts == [deviceA.slavePath: 2, deviceB.slavePath: 1])
        try await running.stop()
        try await server.stop()
    }
}
