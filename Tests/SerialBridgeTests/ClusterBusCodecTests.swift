import SerialBridgeProtocol
@testable import SerialBridgeServer
import Testing

@Suite("Cluster bus: payloads, packing and the merged gateway view (no database)")
struct ClusterBusCodecTests {
    static let reading = #"{"type":"reading","id":"gw-1:co2","gateway":"gw-1","device":"co2","profile":"p","ts":1,"values":{"co2":608},"units":{}}"#

    @Test("every message kind survives encode and decode", arguments: [
        BusMessage.live([.init(device: "gw-1:co2", text: reading), .init(device: nil, text: #"{"type":"gateway","gateway":"gw-1","online":true,"ts":5}"#)]),
        .stored(id: 42),
        .command(request: "A-1", gateway: "gw-1", command: CommandRequest(id: "A-1", device: "co2", name: "calibrateSpan", arguments: ["ppm": 2000]), timeoutMs: 30_000),
        .result(request: "A-1", CommandResultMessage(id: "A-1", device: "co2", status: .failed, message: "no such command")),
        .tap(request: "A-2", gateway: "gw-1", device: "co2", start: true),
        .tapped(request: "A-2", ok: false),
    ])
    func roundTrip(_ message: BusMessage) throws {
        let envelope = BusMessage.Envelope(from: "A", to: "B", message: message)
        #expect(try BusMessage.Envelope.decode(envelope.encoded()) == envelope)
        let broadcast = BusMessage.Envelope(from: "A", message: message)
        #expect(try BusMessage.Envelope.decode(broadcast.encoded()) == broadcast)
    }

    @Test("unreadable payloads are refused with a reason, never a crash", arguments: [
        ("not json", "not JSON"),
        (#"{"v":2,"from":"A","kind":"live","items":[]}"#, "not a version 1 bus message"),
        (#"{"v":1,"kind":"live","items":[]}"#, "from must be a string"),
        (#"{"v":1,"from":"A","kind":"gossip"}"#, "unknown kind \"gossip\""),
        (#"{"v":1,"from":"A","kind":"live","items":[[1,"x"]]}"#, "a live item's device must be a string or null"),
        (#"{"v":1,"from":"A","kind":"live","items":["x"]}"#, "a live item must be [device or null, text]"),
        (#"{"v":1,"from":"A","kind":"command","request":"r","gateway":"g","timeoutMs":1,"message":"{}"}"#, "message:"),
    ])
    func badPayloads(_ payload: String, _ reason: String) {
        let error = #expect(throws: BusMessageError.self) { try BusMessage.Envelope.decode(payload) }
        #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
    }

    @Test func manyLiveUpdatesSharePayloadsThatStayUnderTheLimit() throws {
        let items = (0..<500).map { BusMessage.LiveItem(device: "gw-1:co2", text: Self.reading.replacingOccurrences(of: "\"ts\":1", with: "\"ts\":\($0)")) }
        let packets = BusPacker.pack(live: items, from: "instance-a")
        #expect(packets.count > 1 && packets.count < 30)
        var unpacked: [BusMessage.LiveItem] = []
        for packet in packets {
            guard case .notify(let text) = packet else {
                Issue.record("a small update went to the table")
                continue
            }
            #expect(text.utf8.count <= BusPacker.limit)
            guard case .live(let part) = try BusMessage.Envelope.decode(text).message else {
                Issue.record("not a live payload")
                continue
            }
            unpacked += part
        }
        #expect(unpacked == items)
    }

    @Test func anUpdateTooLargeForAnyPayloadGoesToTheTableInOrder() throws {
        let big = BusMessage.LiveItem(device: "gw-1:co2", text: "{\"type\":\"tap\",\"base64\":\"" + String(repeating: "A", count: 12_000) + "\"}")
        let small = BusMessage.LiveItem(device: nil, text: #"{"type":"gateway"}"#)
        let packets = BusPacker.pack(live: [small, big, small], from: "A")
        #expect(packets.count == 3)
        guard packets.count == 3, case .notify = packets[0], case .store(let stored) = packets[1], case .notify = packets[2] else {
            Issue.record("expected notify, store, notify; got \(packets)")
            return
        }
        #expect(try BusMessage.Envelope.decode(stored).message == .live([big]))
        // Requests are packed alone, by the same rule.
        let request = BusMessage.Envelope(from: "A", to: "B", message: .tap(request: "r", gateway: "g", device: "d", start: true))
        #expect(BusPacker.pack(request) == .notify(request.encoded()))
        #expect(BusPacker.pack(request, limit: 10) == .store(request.encoded()))
    }

    @Test func aGatewayOnlineElsewhereShowsThereUnlessThisInstanceHoldsANewerConnection() {
        let offlineHere = GatewayRegistry.Status(gateway: "gw-1", online: false, connectedAt: 100, disconnectedAt: 150, disconnectReason: "gone", lastSeen: 150)
        let onlineHere = GatewayRegistry.Status(gateway: "gw-2", online: true, connectedAt: 500, lastSeen: 510, instance: "A")
        let merged = RemoteGateway.merge(local: [offlineHere, onlineHere], remote: [
            RemoteGateway(gateway: "gw-1", instance: "B", connectedAt: 200),
            RemoteGateway(gateway: "gw-2", instance: "B", connectedAt: 400),
            RemoteGateway(gateway: "gw-3", instance: "C", connectedAt: 300),
        ])
        #expect(merged.map(\.gateway) == ["gw-1", "gw-2", "gw-3"])
        #expect(merged[0].online && merged[0].instance == "B" && merged[0].connectedAt == 200 && merged[0].disconnectedAt == nil)
        #expect(merged[1] == onlineHere)
        #expect(merged[2].online && merged[2].instance == "C")
    }

    @Test("cluster URLs are parsed, and bad ones refused with the reason", arguments: [
        ("postgres://sb:secret@db.example:6543/fleet?sslmode=disable", nil),
        ("postgresql://sb@db/fleet", nil),
        ("mysql://sb@db/fleet", "the scheme must be postgres://"),
        ("postgres://sb@db", "no database name"),
        ("postgres://sb@/fleet", "no host"),
        ("postgres://sb@db/fleet?sslmode=maybe", "sslmode must be disable, prefer or require"),
    ] as [(String, String?)])
    func clusterURLs(_ url: String, _ problem: String?) {
        do {
            let options = try ClusterOptions(url: url, instanceID: "i-1")
            #expect(problem == nil)
            #expect(!options.displayURL.contains("secret"))
            #expect(options.instanceID == "i-1")
        } catch {
            #expect(problem.map { error.description.contains($0) } == true, "\(error)")
        }
    }
}
