import Crypto
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeProtocol
import SerialBridgeSerial
import SerialBridgeServer
import SerialBridgeUplink
import ServiceLifecycle
import Synchronization
import Testing
import WSClient

/// A gateway run from a config file with an explicit environment (never the test process's own,
/// so a proxy set on the machine cannot leak into these tests).
private struct EnvironmentGateway {
    let gateway: Gateway
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(configFile: String, environment: [String: String], logger: Logger) throws {
        gateway = try Gateway(config: try GatewayConfig.load(file: configFile), logger: logger) { environment[$0] }
        let group = gateway.serviceGroup(signals: [])
        self.group = group
        task = Task { try await group.run() }
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// A real server terminating TLS with a certificate from a CA made in the test, one device on a
/// pty, and gateway configs pointing at the server over wss://.
private struct SecureStack {
    let logs = LogCapture()
    let directory: TemporaryDirectory
    let pki: TestPKI
    let serverIdentity: TestPKI.Identity
    let server: TestServer
    let device: PseudoTerminal
    let caFile: String

    /// `names` and `addresses` go into the server certificate; `clientCA` makes the server demand
    /// client certificates issued by the test CA.
    init(names: [String] = ["localhost"], addresses: [[UInt8]] = [], clientCA: Bool = false, compression: Bool = true) async throws {
        directory = try TemporaryDirectory()
        pki = try TestPKI(in: directory)
        caFile = try pki.writeAuthority()
        serverIdentity = try pki.server(names: names, addresses: addresses)
        let files = try pki.write(serverIdentity, as: "server")
        let tls = try ServerTLS(certificateFile: files.certificate, keyFile: files.key, clientCAFile: clientCA ? caFile : nil).configuration
        server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"), tls: tls, compression: compression)
        device = try PseudoTerminal()
    }

    /// Writes `gateway.json` with the given `server.tls` object (JSON text) and extra `server` keys.
    func config(host: String = "localhost", tls: String?, extra: String = "") throws -> String {
        try directory.write("token", TestServer.token + "\n")
        let tlsPart = tls.map { #", "tls": \#($0)"# } ?? ""
        try directory.write("gateway.json", """
        {
          "gatewayId": "gw-test",
          "server": { "url": "wss://\(host):\(server.port)/gateway/v1", "tokenFile": "token"\(tlsPart)\(extra) },
          "stateDirectory": "state",
          "profileFolders": ["\(Repository.profiles)"],
          "ports": [ { "device": "sensor-1", "path": "\(device.slavePath)", "profile": "generic-csv-lines" } ],
          "discovery": false,
          "reconnect": { "initialDelayMs": 20, "maxDelayMs": 200 },
          "metrics": { "listen": "127.0.0.1:0" },
          "logLevel": "debug"
        }
        """)
        return directory.file("gateway.json")
    }

    func start(_ config: String, environment: [String: String] = [:]) throws -> EnvironmentGateway {
        try EnvironmentGateway(configFile: config, environment: environment, logger: logs.logger("gateway"))
    }

    func stored() async throws -> Int64 {
        try await server.store.devices().first?.readingCount ?? 0
    }

    /// Writes `count` readings and waits until the server stored them all.
    func deliver(_ count: Int) async throws {
        for n in 1...count { try device.write(Array("\(n).5,\(n % 100)\n".utf8)) }
        try await eventually("\(count) readings stored") { try await stored() == Int64(count) }
    }

    /// Waits for a refused connection attempt whose log line contains `phrase`, then checks that
    /// the link never came up.
    func expectRefusal(_ gateway: EnvironmentGateway, containing phrase: String) async throws {
        try await eventually("a refused connection logged with \"\(phrase)\"") {
            logs.messages.contains { $0.contains("cannot connect to") && $0.contains(phrase) }
        }
        #expect(gateway.gateway.uplink.connectionCount == 0)
        #expect(try await stored() == 0)
    }

    func stop(_ gateway: EnvironmentGateway) async throws {
        try await gateway.stop()
        try await server.stop()
        device.close()
    }
}

@Suite("Uplink over wss://: CA file, wrong host, pins, mutual TLS, proxy, compression", .serialized)
struct UplinkSecureLinkTests {
    @Test func aGatewayTrustingTheTestCAThroughCaFileDeliversReadings() async throws {
        let stack = try await SecureStack()
        let gateway = try stack.start(stack.config(tls: #"{ "caFile": "ca.pem" }"#))
        try await stack.deliver(50)
        #expect(gateway.gateway.uplink.connectionCount >= 1)
        try await stack.stop(gateway)
    }

    @Test func withoutTheCAFileTheSystemTrustStoreRefusesTheTestCA() async throws {
        let stack = try await SecureStack()
        let gateway = try stack.start(stack.config(tls: nil))
        try await stack.expectRefusal(gateway, containing: "not trusted by the system trust store")
        try await stack.stop(gateway)
    }

    @Test func aCertificateForAnotherHostIsRefusedWithAClearLogLine() async throws {
        let stack = try await SecureStack(names: ["other.example"])
        let gateway = try stack.start(stack.config(tls: #"{ "caFile": "ca.pem" }"#))
        try await stack.expectRefusal(gateway, containing: #"certificate is not valid for "localhost" (wrong host"#)
        try await stack.stop(gateway)
    }

    @Test func serverNameLetsAnIPLiteralURLCheckTheCertificateByName() async throws {
        let stack = try await SecureStack(names: ["localhost"])
        let gateway = try stack.start(stack.config(host: "127.0.0.1", tls: #"{ "caFile": "ca.pem", "serverName": "localhost" }"#))
        try await stack.deliver(10)
        try await stack.stop(gateway)
    }

    @Test func anIPLiteralURLWithoutServerNameIsCheckedAgainstTheCertificatesAddress() async throws {
        let stack = try await SecureStack(names: ["gateway-server.test"], addresses: [[127, 0, 0, 1]])
        let gateway = try stack.start(stack.config(host: "127.0.0.1", tls: #"{ "caFile": "ca.pem" }"#))
        try await stack.deliver(10)
        try await stack.stop(gateway)
    }

    @Test func aPinOnTheCAKeyIsAcceptedThoughTheServerSendsOnlyItsLeaf() async throws {
        let stack = try await SecureStack()
        let pin = stack.pki.authority.pin
        let gateway = try stack.start(stack.config(tls: #"{ "caFile": "ca.pem", "pinnedKeys": ["\#(pin)"] }"#))
        try await stack.deliver(10)
        try await stack.stop(gateway)
    }

    @Test func aPinOnTheServerKeyIsAcceptedAmongOthers() async throws {
        let stack = try await SecureStack()
        let other = TestPKI.Identity.randomPin()
        let pins = #"["\#(other)", "\#(stack.serverIdentity.pin)"]"#
        let gateway = try stack.start(stack.config(tls: #"{ "caFile": "ca.pem", "pinnedKeys": \#(pins) }"#))
        try await stack.deliver(10)
        try await stack.stop(gateway)
    }

    @Test func aDifferentPinIsRefusedAndTheLogNamesTheChainsKeys() async throws {
        let stack = try await SecureStack()
        let gateway = try stack.start(stack.config(tls: #"{ "caFile": "ca.pem", "pinnedKeys": ["\#(TestPKI.Identity.randomPin())"] }"#))
        try await stack.expectRefusal(gateway, containing: "no certificate in the server's verified chain has a pinned key")
        let line = try #require(stack.logs.messages.first { $0.contains("has a pinned key") })
        #expect(line.contains("leaf first: \(stack.serverIdentity.pin), \(stack.pki.authority.pin)"))
        try await stack.stop(gateway)
    }

    @Test func mutualTLSConnectsWithTheClientCertificate() async throws {
        let stack = try await SecureStack(clientCA: true)
        try stack.pki.write(try stack.pki.client(name: "gw-test"), as: "client")
        let tls = #"{ "caFile": "ca.pem", "certificateFile": "client.pem", "keyFile": "client.key" }"#
        let gateway = try stack.start(stack.config(tls: tls))
        try await stack.deliver(20)
        try await stack.stop(gateway)
    }

    @Test func mutualTLSWithoutAClientCertificateIsRefused() async throws {
        let stack = try await SecureStack(clientCA: true)
        let gateway = try stack.start(stack.config(tls: #"{ "caFile": "ca.pem" }"#))
        try await eventually("the refusal logged") {
            stack.logs.messages.contains { $0.contains("the server requires a client certificate") }
        }
        #expect(gateway.gateway.uplink.connectionCount == 0)
        #expect(try await stack.stored() == 0)
        try await stack.stop(gateway)
    }

    @Test func mutualTLSWithACertificateFromAnotherCAIsRefused() async throws {
        let stack = try await SecureStack(clientCA: true)
        let stranger = try TestPKI(name: "Someone Else's CA", in: stack.directory)
        try stranger.write(try stranger.client(name: "gw-test"), as: "client")
        let tls = #"{ "caFile": "ca.pem", "certificateFile": "client.pem", "keyFile": "client.key" }"#
        let gateway = try stack.start(stack.config(tls: tls))
        try await eventually("the refusal logged") {
            stack.logs.messages.contains { $0.contains("the server refused the client certificate") }
        }
        #expect(gateway.gateway.uplink.connectionCount == 0)
        try await stack.stop(gateway)
    }

    @Test func theConfiguredProxyCarriesTheLinkAndGetsItsCredentials() async throws {
        let stack = try await SecureStack()
        let expected = "Basic " + Base64.encode(Array("gw:p@ss word".utf8))
        let proxy = try await TestConnectProxy(requiredAuthorization: expected)
        let extra = #", "proxy": "http://gw:p%40ss%20word@127.0.0.1:\#(proxy.port)""#
        // The environment's proxy is ignored when the config names one.
        let environment = ["https_proxy": "http://127.0.0.1:1", "no_proxy": "localhost"]
        let gateway = try stack.start(stack.config(tls: #"{ "caFile": "ca.pem" }"#, extra: extra), environment: environment)
        try await stack.deliver(30)
        #expect(proxy.received.count >= 1)
        #expect(proxy.received.allSatisfy { $0.target == "localhost:\(stack.server.port)" && $0.authorization == expected })
        #expect(stack.logs.messages.contains { $0.contains("tunnels through proxy http://gw:***@127.0.0.1:\(proxy.port) (from server.proxy)") })
        try await stack.stop(gateway)
        await proxy.stop()
    }

    @Test func aProxyWithoutTheRightCredentialsIsReportedAsSuch() async throws {
        let stack = try await SecureStack()
        let proxy = try await TestConnectProxy(requiredAuthorization: "Basic c29tZW9uZTplbHNl")
        let gateway = try stack.start(stack.config(tls: #"{ "caFile": "ca.pem" }"#, extra: #", "proxy": "http://127.0.0.1:\#(proxy.port)""#))
        try await stack.expectRefusal(gateway, containing: "requires authentication (HTTP 407)")
        try await stack.stop(gateway)
        await proxy.stop()
    }

    @Test func theEnvironmentsHttpsProxyIsUsedUnlessNoProxyNamesTheServer() async throws {
        let stack = try await SecureStack()
        let proxy = try await TestConnectProxy()
        let config = try stack.config(tls: #"{ "caFile": "ca.pem" }"#)

        let bypassed = try stack.start(config, environment: ["https_proxy": "http://127.0.0.1:\(proxy.port)", "no_proxy": "example.org, .localhost"])
        try await stack.deliver(10)
        try await bypassed.stop()
        #expect(proxy.received.isEmpty)

        let proxied = try stack.start(config, environment: ["HTTPS_PROXY": "http://127.0.0.1:\(proxy.port)", "no_proxy": "localhost:1"])
        for n in 11...20 { try stack.device.write(Array("\(n).5,1\n".utf8)) }
        try await eventually("20 readings stored") { try await stack.stored() == 20 }
        #expect(proxy.received.count >= 1)
        #expect(stack.logs.messages.contains { $0.contains("(from HTTPS_PROXY)") })
        try await stack.stop(proxied)
        await proxy.stop()
    }
}

@Suite("Uplink WebSocket client over wss://: compression, errors, set-up deadline", .serialized)
struct UplinkSocketTests {
    /// Connects an `UplinkSocket` as the gateway does, says a large hello (large enough to be
    /// compressed) and waits for the welcome; returns the negotiated extensions and whether the
    /// welcome came.
    func roundTrip(serverCompression: Bool, clientCompression: Bool) async throws -> (extensions: [String], welcomed: Bool) {
        let stack = try await SecureStack(compression: serverCompression)
        defer { stack.device.close() }
        let transport = UplinkTransport(tls: try UplinkTLS(UplinkTLSSettings(caFile: stack.caFile)), compression: clientCompression)
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(TestServer.token)"
        headers[.secWebSocketProtocol] = Subprotocol.name
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: 1 << 20, additionalHeaders: headers, extensions: transport.extensions(maxFrameSize: 1 << 20)
        )
        let url = try #require(ServerURL("wss://localhost:\(stack.server.port)/gateway/v1"))
        let outcome = Mutex<([String], Bool)>(([], false))
        let socket = UplinkSocket(url: url, configuration: configuration, transport: transport, logger: stack.logs.logger("socket")) { inbound, outbound, context in
            let hello = Hello(gateway: "gw-test", software: String(repeating: "0.1.0 ", count: 1000), epoch: 1, lastSequence: 0)
            try await outbound.write(.text(String(decoding: MessageCodec.encode(.hello(hello)), as: UTF8.self)))
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            var welcomed = false
            if case .text(let text)? = try await messages.next(), case .welcome? = try? MessageCodec.decode(Array(text.utf8)) {
                welcomed = true
            }
            outcome.withLock { $0 = (context.extensions, welcomed) }
        }
        try await socket.run()
        try await stack.server.stop()
        return outcome.withLock { $0 }
    }

    @Test func permessageDeflateIsNegotiatedWhenBothSidesWantIt() async throws {
        let (extensions, welcomed) = try await roundTrip(serverCompression: true, clientCompression: true)
        #expect(extensions == ["permessage-deflate"])
        #expect(welcomed)
    }

    @Test func aServerWithoutCompressionStillSpeaksPlainFrames() async throws {
        let (extensions, welcomed) = try await roundTrip(serverCompression: false, clientCompression: true)
        #expect(extensions.isEmpty)
        #expect(welcomed)
    }

    @Test func aClientWithCompressionOffDoesNotOfferIt() async throws {
        let (extensions, welcomed) = try await roundTrip(serverCompression: true, clientCompression: false)
        #expect(extensions.isEmpty)
        #expect(welcomed)
    }

    @Test func aPeerThatAcceptsTCPAndStaysSilentIsDroppedAtTheSetupDeadline() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in channel.eventLoop.makeSucceededVoidFuture() }
        let port = try #require(silent.channel.localAddress?.port)
        let transport = UplinkTransport(setupTimeout: .milliseconds(300))
        let url = try #require(ServerURL("wss://localhost:\(port)/gateway/v1"))
        let socket = UplinkSocket(
            url: url, configuration: WebSocketClientConfiguration(), transport: transport, logger: LogCapture().logger()
        ) { _, _, _ in Issue.record("a silent peer cannot complete an upgrade") }
        await #expect(throws: UplinkConnectError.setupTimedOut(milliseconds: 300)) { try await socket.run() }
        try await silent.channel.close()
    }
}

extension TestPKI.Identity {
    /// The pin of a fresh key that nothing uses.
    static func randomPin() -> String {
        Base64.encode(Array(SHA256.hash(data: P256.Signing.PrivateKey().publicKey.derRepresentation)))
    }
}
