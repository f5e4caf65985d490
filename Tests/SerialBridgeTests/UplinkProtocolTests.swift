import Foundation
import Logging
import SerialBridgeGateway
import SerialBridgeProtocol
import SerialBridgeSerial
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The status line the server answers to a WebSocket upgrade request sent by hand.
func upgradeStatus(port: Int, path: String = "/gateway/v1", headers: [String]) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TimedOut(what: "socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TimedOut(what: "connect") }
    let request = (["GET \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Connection: Upgrade", "Upgrade: websocket",
                    "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="] + headers).joined(separator: "\r\n") + "\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = recv(fd, &buffer, buffer.count, 0)
    let text = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
    return text.split(separator: "\r\n").first.map(String.init) ?? ""
}

@Suite("Uplink protocol: subprotocol, binary readings, chunked messages", .serialized)
struct UplinkProtocolTests {
    @Test func theServerRefusesAnUpgradeWithoutTheSubprotocol() async throws {
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let auth = "Authorization: Bearer \(TestServer.token)"
        let port = server.port
        #expect(try await offThePool { try upgradeStatus(port: port, headers: [auth]) }.hasPrefix("HTTP/1.1 400"))
        #expect(logs.count(containing: "did not offer subprotocol serialbridge.v1") == 1)
        #expect(try await offThePool { try upgradeStatus(port: port, headers: [auth, "Sec-WebSocket-Protocol: chat, serialbridge.v1"]) }.hasPrefix("HTTP/1.1 101"))
        try await server.stop()
    }

    @Test func binaryReadingsAndChunkedMessagesAreStoredLikeJSON() async throws {
        let logs = LogCapture()
        // A 1 KiB message limit: every reading with its 3 KiB raw value travels in chunks.
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"), maxMessageBytes: 1024)
        let dir = try TemporaryDirectory()
        let csv = try PseudoTerminal()
        let raw = try PseudoTerminal()
        defer {
            csv.close()
            raw.close()
        }
        try FileManager.default.createDirectory(atPath: dir.file("profiles"), withIntermediateDirectories: true)
        try dir.write("profiles/big-lines.json", """
            { "name": "big-lines", "framing": { "type": "line", "maxLength": 8192 }, "output": { "raw": true } }
            """)
        try FileManager.default.copyItem(atPath: Repository.profiles + "/generic-csv-lines.json", toPath: dir.file("profiles/generic-csv-lines.json"))
        let config = try writeGatewayConfig(in: dir, serverPort: server.port, profiles: dir.file("profiles"), ports: """
            [{ "device": "csv", "path": "\(csv.slavePath)", "profile": "generic-csv-lines", "encoding": "binary" },
             { "device": "blob", "path": "\(raw.slavePath)", "profile": "big-lines" }]
            """)
        let gateway = try TestGateway(configFile: config, logger: logs.logger("gateway"))
        for n in 1...200 { try csv.write(Array("\(n).5,\(n % 100)\n".utf8)) }
        let blob = String(repeating: "x", count: 3000)
        for _ in 1...3 { try raw.write(Array((blob + "\n").utf8)) }
        try await eventually("200 binary readings and 3 chunked ones stored") {
            let csvCount = try await server.store.readings(gateway: "gw-test", device: "csv", limit: 1000).count
            let blobCount = try await server.store.readings(gateway: "gw-test", device: "blob", limit: 10).count
            return csvCount == 200 && blobCount == 3
        }
        let readings = try await server.store.readings(gateway: "gw-test", device: "csv", limit: 1000)
        #expect(readings.map(\.valuesJSON) == (1...200).map { #"{"temperature":\#($0).5,"humidity":\#(Double($0 % 100))}"# })
        let blobs = try await server.store.readings(gateway: "gw-test", device: "blob", limit: 10)
        #expect(blobs.allSatisfy { $0.valuesJSON.count > 4000 })
        try await gateway.stop()
        try await server.stop()
    }
}
