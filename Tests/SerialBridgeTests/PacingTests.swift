import Foundation
import Logging
@testable import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeSerial
@testable import SerialBridgeUplink
import Testing

@Suite("Pacing: slow devices read on a shared grid, readings sent together, idle timers rare")
struct PacingTests {
    private static let millisecond: UInt64 = 1_000_000

    @Test func aSlowDeviceWaitsForTheNextTickAndAFastOneIsReadAtOnce() {
        var pacing = ReadPacing(interval: .milliseconds(50))
        // What a read at the tick takes at most counts as fast: a device with more waiting is read on.
        #expect(ReadTicker.readBufferBytes >= ReadPacing.burstBytes)
        // A line now and then: always the next tick.
        #expect(pacing.cycleEnded(bytes: 12, at: 1_000 * Self.millisecond) == .atNextTick)
        #expect(pacing.cycleEnded(bytes: 12, at: 1_010 * Self.millisecond) == .atNextTick)
        // 1 KiB within one interval: a fast device, read on at once for the rest of it and the next…
        #expect(pacing.cycleEnded(bytes: 1_000, at: 1_020 * Self.millisecond) == .readNow)
        #expect(pacing.cycleEnded(bytes: 10, at: 1_049 * Self.millisecond) == .readNow)
        #expect(pacing.cycleEnded(bytes: 10, at: 1_050 * Self.millisecond) == .readNow)
        // …and paced again after an interval in which it sent little…
        #expect(pacing.cycleEnded(bytes: 10, at: 1_100 * Self.millisecond) == .atNextTick)
        // …or nothing at all.
        #expect(pacing.cycleEnded(bytes: 2_000, at: 1_150 * Self.millisecond) == .readNow)
        #expect(pacing.cycleEnded(bytes: 10, at: 1_250 * Self.millisecond) == .atNextTick)
        // One big read is a burst by itself.
        #expect(pacing.cycleEnded(bytes: 4_096, at: 1_260 * Self.millisecond) == .readNow)
    }

    @Test func theWatchdogSleepsUntilTheNextDeadlineOrAQuarterSecond() {
        let watch = ConnectionWatch(dialedAt: .seconds(100), connectTimeout: .seconds(30), openedAt: .seconds(101), maxAge: .seconds(2), settleTimeout: .seconds(10))
        #expect(watch.nextTick(now: .seconds(101), busy: false) == .milliseconds(250))
        #expect(watch.nextTick(now: .milliseconds(102_900), busy: false) == .milliseconds(100))
        #expect(watch.nextTick(now: .seconds(101), busy: true) == .milliseconds(20))
        let ageless = ConnectionWatch(dialedAt: .zero, connectTimeout: .milliseconds(100), openedAt: .zero, maxAge: nil, settleTimeout: .seconds(10))
        #expect(ageless.nextTick(now: .milliseconds(40), busy: false) == .milliseconds(60))
        #expect(ageless.nextTick(now: .seconds(5), busy: false) == .milliseconds(250))
    }

    @Test func stringsWithAndWithoutEscapesParseAlike() throws {
        let node = try JSONParser.parse(Array(#"{"plain":"°C","escaped":"a\"b\\c\u00e9","empty":"","tail":"x\n"}"#.utf8))
        #expect(node["plain"] == .string("°C"))
        #expect(node["escaped"] == .string("a\"b\\cé"))
        #expect(node["empty"] == .string(""))
        #expect(node["tail"] == .string("x\n"))
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array("\"a\u{01}b\"".utf8)) }
    }

    @Test func slowDevicesOnAPacedGridDeliverEveryLine() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let devices = try (0..<3).map { _ in try PseudoTerminal() }
        defer { devices.forEach { $0.close() } }
        let dir = try TemporaryDirectory()
        let ports = devices.enumerated().map { #"{ "device": "s\#($0.offset)", "path": "\#($0.element.slavePath)", "profile": "generic-csv-lines" }"# }
        try dir.write("token", TestServer.token + "\n")
        try dir.write("gateway.json", """
            { "gatewayId": "gw-test", "server": { "url": "ws://127.0.0.1:\(server.port)/gateway/v1", "tokenFile": "token" },
              "stateDirectory": "state", "profileFolders": ["\(Repository.profiles)"], "ports": [\(ports.joined(separator: ","))],
              "discovery": false, "metrics": { "listen": false }, "readIntervalMs": 200, "uplink": { "lingerMs": 100 } }
            """)
        let running = try TestGateway(configFile: dir.file("gateway.json"), logger: logs.logger("gateway"))
        try await eventually("three devices attached") {
            running.gateway.deviceCounters.snapshot.values.filter(\.open).count == 3
        }
        for round in 1...20 {
            for device in devices { try device.write(Array("\(round).5,1\n".utf8)) }
        }
        for index in 0..<3 {
            try await eventually("20 readings of s\(index)", logs: logs) {
                try await server.store.readings(gateway: "gw-test", device: "s\(index)", limit: 100).count == 20
            }
            let values = try await server.store.readings(gateway: "gw-test", device: "s\(index)", limit: 100).map(\.valuesJSON)
            #expect(values == (1...20).map { #"{"temperature":\#($0).5,"humidity":1.0}"# })
        }
        try await running.stop()
        try await server.stop()
    }

    @Test func readingsArrivingOneByOneAreSentTogether() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let device = try PseudoTerminal()
        defer { device.close() }
        let dir = try TemporaryDirectory()
        // Every line read at once, then a long linger: the sender gathers what the device sends.
        let config = try writeLinkConfig(
            in: dir, url: "ws://127.0.0.1:\(server.port)/gateway/v1", device: device.slavePath,
            extra: #", "readIntervalMs": 0, "uplink": { "lingerMs": 1000 }"#
        )
        let running = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        let uplink = running.gateway.uplink
        try await eventually("attached stored") { uplink.health.framesOut >= 1 }
        let before = uplink.health.messagesOut
        for n in 1...30 {
            try device.write(Array("\(n).5,1\n".utf8))
            // One line per read: wait until the gateway has parsed it before writing the next.
            try await eventually("line \(n) read") {
                running.gateway.deviceCounters.snapshot["sensor-1"]?.readings == UInt64(n)
            }
        }
        try await eventually("30 stored", logs: logs) {
            try await server.store.readings(gateway: "gw-test", device: "sensor-1", limit: 100).count == 30
        }
        // 30 readings, one message each without lingering; a few with it (heartbeats and link
        // reports may add one or two).
        let sent = uplink.health.messagesOut - before
        #expect(sent <= 12, "\(sent) messages for 30 readings")
        try await running.stop()
        try await server.stop()
    }
}
