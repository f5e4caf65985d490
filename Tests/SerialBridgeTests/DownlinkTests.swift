import Foundation
import Logging
import SerialBridgeGateway
import SerialBridgeProtocol
import SerialBridgeSimulator
import Synchronization
import Testing

@Suite("Downlink: commands and raw taps from the server, link reports to it", .serialized)
struct DownlinkTests {

    @Test func commandsTapsAndLinkReportsTravelTheLink() async throws {
        let logs = LogCapture()
        let stack = try await ScriptedCO2Stack(logs: logs)
        defer { stack.closeDevice() }
        let (server, gateway) = (stack.server, stack.gateway)
        // The gateway reports its link as soon as it is up.
        try await eventually("link report") { server.registry.gateways.first?.link != nil }
        #expect(server.registry.gateways.first?.online == true)

        let read = await server.registry.send(command: "readCO2", to: "co2", on: "gw-test", arguments: [:])
        #expect(read.status == .answered && read.response == ScriptedCO2Stack.answer)
        let span = await server.registry.send(command: "calibrateSpan", to: "co2", on: "gw-test", arguments: ["ppm": 2000])
        #expect(span.status == .sent)
        let bad = await server.registry.send(command: "calibrateSpan", to: "co2", on: "gw-test", arguments: ["ppm": 20])
        #expect(bad.status == .failed && bad.message == "argument \"ppm\" must be from 1000.0 to 10000.0, not 20.0")
        let nobody = await server.registry.send(command: "readCO2", to: "nobody", on: "gw-test", arguments: [:])
        #expect(nobody.status == .failed)
        let offline = await server.registry.send(command: "readCO2", to: "co2", on: "gw-other", arguments: [:])
        #expect(offline.status == .failed && offline.message == "gateway \"gw-other\" is not connected")

        // A raw tap shows the poll going out and the answer coming back.
        let live = server.registry
        let feed = server.feed
        let taps = Mutex<[String]>([])
        let watcher = Task {
            for await message in feed.subscribe().updates where message.contains("\"type\":\"tap\"") {
                taps.withLock { $0.append(message) }
            }
        }
        defer { watcher.cancel() }
        #expect(await live.tap("co2", on: "gw-test", start: true))
        try await eventually("tapped traffic both ways") {
            let seen = taps.withLock { $0 }
            return seen.contains { $0.contains("\"dir\":\"tx\"") } && seen.contains { $0.contains("\"dir\":\"rx\"") && $0.contains("/4YCYEcAAADR") }
        }
        #expect(await live.tap("co2", on: "gw-test", start: false))
        try await gateway.stop()
        try await eventually("offline after the gateway stops") { server.registry.gateways.first?.online == false }
        try await server.stop()
    }
}
