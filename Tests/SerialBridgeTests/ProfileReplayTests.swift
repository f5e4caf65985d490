import SerialBridgeGateway
import SerialBridgeParsing
import SerialBridgeProfiles
import SerialBridgeSerial
import SerialBridgeSimulator
import Testing

@Suite("profiles test: replaying captures")
struct ProfileReplayTests {
    @Test func readingsAndRejectionsComeOutAsJSONLinesWithOffsets() throws {
        let profile = try ProfileLoader.load(file: Repository.profiles + "/nova-sds011.json")
        let good = try #require(Hex.decode("aac0d4043a0aa1601dab"))
        let badChecksum = try #require(Hex.decode("aac0d4043a0aa16000ab"))
        var lines: [String] = []
        let counters = ProfileReplay.replay([.init(time: 0, bytes: [0x00] + badChecksum + good)], spec: profile.parsing) {
            lines.append(String(decoding: $0, as: UTF8.self))
        }
        #expect(lines == [
            #"{"error":"no sync header","stage":"framing","offset":0}"#,
            #"{"error":"sum8 mismatch: computed 0x1D, frame says 0x00","stage":"integrity","offset":1}"#,
            #"{"values":{"pm2_5":123.6,"pm10":261.8,"sensor_id":41312},"units":{"pm2_5":"µg/m³","pm10":"µg/m³"}}"#,
        ])
        #expect(counters.readings == 1 && counters.checksumErrors == 1)
    }
}

@Suite("devices capture on a pseudo-terminal", .serialized)
struct PortCaptureTests {
    @Test func aCaptureHoldsExactlyTheBytesTheDeviceSentAndReplays() throws {
        let device = try PseudoTerminal()
        defer { device.close() }
        let profile = try ProfileLoader.load(file: Repository.profiles + "/nova-sds011.json")
        var simulator = try DeviceSimulator(profile: profile, seed: 4)
        let sent = (0..<50).flatMap { _ in simulator.nextOutput() }
        try device.write(sent)
        let port = try SerialPort.open(path: device.slavePath, settings: profile.serial)
        defer { port.close() }
        var file: [UInt8] = []
        let captured = try PortCapture.run(port: port, limits: .init(duration: .seconds(60), maxBytes: sent.count)) { file.append(contentsOf: $0) }
        #expect(captured == sent.count)
        let records = try CaptureFormat.records(file).get()
        #expect(records.flatMap(\.bytes) == sent)
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.time <= $1.time })
        var lines = 0
        let counters = ProfileReplay.replay(records, spec: profile.parsing) { _ in lines += 1 }
        #expect(counters.readings == 50 && lines == 50)
    }
}
