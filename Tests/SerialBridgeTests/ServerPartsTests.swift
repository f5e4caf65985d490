import Foundation
import GRDB
import SerialBridgeProtocol
import SerialBridgeServer
import Testing

@Suite("Server tokens and storage")
struct ServerPartsTests {
    let tokens = TokenStore([(gateway: "gw-1", token: "aaaaaaaaaaaaaaaa1"), (gateway: "gw-2", token: "bbbbbbbbbbbbbbbb2")])

    @Test func tokensAuthenticateTheirOwnGatewayOnly() {
        #expect(tokens.check(authorization: "Bearer aaaaaaaaaaaaaaaa1") == .accepted(gateway: "gw-1"))
        #expect(tokens.check(authorization: "Bearer bbbbbbbbbbbbbbbb2") == .accepted(gateway: "gw-2"))
        #expect(tokens.check(authorization: "Bearer aaaaaaaaaaaaaaaa") == .refused(reason: "unknown token"))
        #expect(tokens.check(authorization: nil) == .refused(reason: "missing Authorization header"))
        #expect(tokens.check(authorization: "Basic Zm9vOmJhcg==") == .refused(reason: "Authorization header is not a Bearer token"))
    }

    @Test func tokenFileErrorsNameTheLine() throws {
        let dir = try TemporaryDirectory()
        try dir.write("tokens", "# comment\ngw-1 0123456789abcdef\ngw-2 short\n")
        #expect(throws: ServerConfigError.self) { try TokenStore.load(file: dir.file("tokens")) }
        do {
            _ = try TokenStore.load(file: dir.file("tokens"))
        } catch {
            // The old plaintext format is refused with the command that converts it.
            #expect(error.description.hasPrefix("\(dir.file("tokens")):2: a plaintext token for gateway \"gw-1\" (the old token file format)"))
        }
    }

    @Test(arguments: StorageBackend.available)
    func aReadingIsStoredOnceWhateverTimesItIsSent(_ backend: StorageBackend) async throws {
        let dir = try TemporaryDirectory()
        let opened = try await backend.open(in: dir)
        defer { opened.close() }
        let store = opened.storage
        let reading = Reading(
            gateway: "gw-1", id: ReadingID(epoch: 1, sequence: 1), device: "d", profile: "p", timestamp: 5,
            values: [NamedValue(name: "t", value: .float(1.5), unit: "°C")]
        )
        #expect(try await store.insert([reading], receivedAt: 0).count == 1)
        #expect(try await store.insert([reading, reading], receivedAt: 0).isEmpty)
        #expect(try await store.lastStored(gateway: "gw-1") == ReadingID(epoch: 1, sequence: 1))
        let devices = try await store.devices()
        #expect(devices.count == 1)
        #expect(devices.first?.readingCount == 1)
        #expect(devices.first?.unitsJSON == #"{"t":"°C"}"#)
    }

    @Test(arguments: StorageBackend.available)
    func outOfRangeFlagsAreStoredWithTheReading(_ backend: StorageBackend) async throws {
        let dir = try TemporaryDirectory()
        let opened = try await backend.open(in: dir)
        defer { opened.close() }
        let store = opened.storage
        let flagged = Reading(
            gateway: "gw-1", id: ReadingID(epoch: 1, sequence: 1), device: "d", profile: "p", timestamp: 5,
            values: [NamedValue(name: "pm2_5", value: .float(1500))], outOfRange: ["pm2_5"]
        )
        var plain = flagged
        plain.id = ReadingID(epoch: 1, sequence: 2)
        plain.outOfRange = []
        _ = try await store.insert([flagged, plain], receivedAt: 0)
        let stored = try await store.readings(gateway: "gw-1", device: "d", limit: 10)
        #expect(stored.map(\.outOfRangeJSON) == [#"["pm2_5"]"#, nil])
    }

    @Test func aDatabaseFromBeforeTheFlagsColumnIsUpgradedInPlace() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("old.sqlite")
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            try db.execute(sql: """
                CREATE TABLE readings (gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, device TEXT NOT NULL,
                profile TEXT NOT NULL, ts INTEGER NOT NULL, received INTEGER NOT NULL, vals TEXT NOT NULL,
                PRIMARY KEY (gateway, epoch, seq)) WITHOUT ROWID;
                INSERT INTO readings VALUES ('gw-1', 1, 1, 'd', 'p', 5, 6, '{"t":1.5}');
                """)
        }
        try old.close()
        let store = try ReadingStore(path: path)
        let stored = try await store.readings(gateway: "gw-1", device: "d", limit: 10)
        #expect(stored.map(\.valuesJSON) == [#"{"t":1.5}"#])
        #expect(try await store.lastStored(gateway: "gw-1") == ReadingID(epoch: 1, sequence: 1))
    }
}
