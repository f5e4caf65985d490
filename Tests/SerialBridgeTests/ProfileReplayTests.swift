import SerialBridgeGateway
import SerialBridgeParsing
import SerialBridgeProfiles
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
