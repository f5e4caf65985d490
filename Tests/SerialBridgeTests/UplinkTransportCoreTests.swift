import Foundation
import NIOSSL
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeUplink
import Testing

@Suite("Uplink transport cores: proxy URLs, no_proxy, proxy precedence, pins, TLS settings")
struct UplinkTransportCoreTests {
    // MARK: Proxy URLs

    @Test(arguments: [
        ("http://proxy.example:3128", "proxy.example", 3128, nil, nil),
        ("http://proxy.example", "proxy.example", 80, nil, nil),
        ("http://proxy.example:3128/", "proxy.example", 3128, nil, nil),
        ("http://user:secret@10.0.0.1:8080", "10.0.0.1", 8080, "user", "secret"),
        ("http://us%65r:p%40ss%3Aword@h:1", "h", 1, "user", "p@ss:word"),
        ("http://user@h:1", "h", 1, "user", nil),
        ("http://[::1]:3128", "::1", 3128, nil, nil),
    ] as [(String, String, Int, String?, String?)])
    func proxyURLsParse(text: String, host: String, port: Int, user: String?, password: String?) throws {
        let proxy = try ProxyURL(parsing: text)
        #expect(proxy.host == host)
        #expect(proxy.port == port)
        #expect(proxy.user == user)
        #expect(proxy.password == password)
    }

    @Test(arguments: [
        ("https://proxy:3128", "only http:// proxies are supported"),
        ("socks5://proxy:1080", "only http:// proxies are supported"),
        ("proxy:3128", "must be a URL http://"),
        ("http://:3128", "has no host"),
        ("http://proxy:0", "has an invalid port"),
        ("http://proxy:http", "has an invalid port"),
        ("http://proxy:3128/path", "must not have a path"),
        ("http://us%zzer:x@proxy:1", "malformed user name"),
    ])
    func badProxyURLsAreRejectedWithAReason(text: String, reason: String) {
        #expect {
            try ProxyURL(parsing: text)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func proxyDescriptionsAndErrorsNeverShowThePassword() throws {
        let proxy = try ProxyURL(parsing: "http://gw:s3cret@proxy:3128")
        #expect(proxy.description == "http://gw:***@proxy:3128")
        #expect(proxy.authorization == "Basic " + Base64.encode(Array("gw:s3cret".utf8)))
        #expect(try ProxyURL(parsing: "http://[::1]:1").description == "http://[::1]:1")
        #expect(try ProxyURL(parsing: "http://h:1").authorization == nil)
        let error = #expect(throws: ProxyURLError.self) { try ProxyURL(parsing: "https://gw:s3cret@proxy:3128") }
        #expect(error.map { !"\($0)".contains("s3cret") } == true)
    }

    // MARK: no_proxy

    @Test(arguments: [
        ("example.org", "example.org", 443, true),
        ("example.org", "gw.example.org", 443, true),
        (".example.org", "example.org", 443, true),
        (".example.org", "a.b.example.org", 443, true),
        ("*.example.org", "a.example.org", 443, true),
        ("example.org", "badexample.org", 443, false),
        ("EXAMPLE.org", "Gw.Example.ORG", 443, true),
        ("example.org:443", "gw.example.org", 443, true),
        ("example.org:8443", "gw.example.org", 443, false),
        ("*", "anything.at.all", 1, true),
        ("a.test, b.test", "b.test", 443, true),
        ("a.test b.test", "b.test", 443, true),
        ("10.0.0.1", "10.0.0.1", 443, true),
        ("0.0.1", "127.0.0.1", 443, false),
        ("::1", "::1", 443, true),
        ("[::1]:8443", "::1", 8443, true),
        ("[::1]:8443", "::1", 443, false),
        ("", "example.org", 443, false),
        ("localhost", "localhost.", 443, true),
    ])
    func noProxyMatchesHostsAndPorts(list: String, host: String, port: Int, bypass: Bool) {
        #expect(NoProxyList(list).matches(host: host, port: port) == bypass)
    }

    // MARK: Which proxy

    private func resolve(_ setting: ProxySetting, _ url: String, _ environment: [String: String]) throws -> String? {
        let server = try #require(ServerURL(url))
        return try setting.resolve(for: server, environment: { environment[$0] })?.description
    }

    @Test func theConfigWinsOverTheEnvironmentAndNoneMeansDirect() throws {
        let environment = ["https_proxy": "http://env:1", "no_proxy": "server.example"]
        let configured = ProxySetting.proxy(try ProxyURL(parsing: "http://conf:2"))
        #expect(try resolve(configured, "wss://server.example/gateway/v1", environment) == "http://conf:2 (from server.proxy)")
        #expect(try resolve(.direct, "wss://other.example/gateway/v1", environment) == nil)
        #expect(try resolve(.environment, "wss://other.example/gateway/v1", environment) == "http://env:1 (from https_proxy)")
        #expect(try resolve(.environment, "wss://server.example/gateway/v1", environment) == nil)
    }

    @Test func theEnvironmentIsReadAsCurlReadsIt() throws {
        let url = "wss://s.example/gateway/v1"
        #expect(try resolve(.environment, url, ["HTTPS_PROXY": "http://upper:1"]) == "http://upper:1 (from HTTPS_PROXY)")
        #expect(try resolve(.environment, url, ["https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"]) == "http://lower:1 (from https_proxy)")
        #expect(try resolve(.environment, url, ["https_proxy": "", "HTTPS_PROXY": "http://upper:1"]) == "http://upper:1 (from HTTPS_PROXY)")
        #expect(try resolve(.environment, url, ["http_proxy": "http://plain:1"]) == nil)
        #expect(try resolve(.environment, "ws://s.example/gateway/v1", ["http_proxy": "http://plain:1"]) == "http://plain:1 (from http_proxy)")
        #expect(try resolve(.environment, "ws://s.example/gateway/v1", ["HTTP_PROXY": "http://plain:1"]) == nil)
        #expect(try resolve(.environment, url, ["https_proxy": "http://p:1", "NO_PROXY": "*"]) == nil)
        #expect(try resolve(.environment, url, [:]) == nil)
    }

    @Test func anUnusableEnvironmentProxyIsAnErrorNamingTheVariable() throws {
        #expect {
            try resolve(.environment, "wss://s.example/", ["https_proxy": "socks5://p:1080"])
        } throws: { error in
            "\(error)".hasPrefix("environment variable https_proxy: only http:// proxies are supported")
        }
    }

    // MARK: Pins

    @Test func pinsParseOnlyAs32ByteBase64Digests() throws {
        let digest = [UInt8](repeating: 7, count: 32)
        #expect(SPKIPin(base64: Base64.encode(digest))?.digest == digest)
        #expect(SPKIPin(base64: Base64.encode([UInt8](repeating: 7, count: 20))) == nil)
        #expect(SPKIPin(base64: "not base64!") == nil)
        #expect(SPKIPin(base64: "") == nil)
    }

    @Test func thePinOfACertificateIsTheDigestOfItsPublicKeyInfo() throws {
        let directory = try TemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let server = try pki.server(names: ["localhost"])
        let files = try pki.write(server, as: "server")
        let certificate = try #require(try NIOSSLCertificate.fromPEMFile(files.certificate).first)
        // Independent of NIOSSL: swift-crypto's own encoding of the same key.
        #expect(try SPKIPin(of: certificate).description == server.pin)
    }

    @Test func thePinMatchesWhatTheDocumentedOpensslCommandPrints() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else {
            try #require(ProcessInfo.processInfo.environment["CI"] != "true", "openssl is missing")
            print("skipped: /usr/bin/openssl is missing (apt-get install openssl)")
            return
        }
        let directory = try TemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let files = try pki.write(try pki.server(names: ["localhost"]), as: "server")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "openssl x509 -in '\(files.certificate)' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(process.terminationStatus == 0)
        let certificate = try #require(try NIOSSLCertificate.fromPEMFile(files.certificate).first)
        #expect(try SPKIPin(of: certificate).description == printed)
    }

    @Test func aChainSatisfiesThePinsWhenAnyOfItsKeysIsPinned() throws {
        let a = try #require(SPKIPin(base64: Base64.encode([UInt8](repeating: 1, count: 32))))
        let b = try #require(SPKIPin(base64: Base64.encode([UInt8](repeating: 2, count: 32))))
        let c = try #require(SPKIPin(base64: Base64.encode([UInt8](repeating: 3, count: 32))))
        #expect(SPKIPin.chain([a, b], satisfies: []))
        #expect(SPKIPin.chain([a, b], satisfies: [b]))
        #expect(SPKIPin.chain([a, b], satisfies: [c, a]))
        #expect(!SPKIPin.chain([a, b], satisfies: [c]))
        #expect(!SPKIPin.chain([], satisfies: [c]))
    }

    // MARK: TLS settings

    @Test func tlsSettingsFailOnTheKeyAtFault() throws {
        let directory = try TemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let ca = try pki.writeAuthority()
        let client = try pki.write(try pki.client(name: "gw"), as: "client")
        let other = try pki.write(try pki.client(name: "other"), as: "other")
        try directory.write("empty.pem", "nothing here\n")
        func key(_ settings: UplinkTLSSettings) -> String? {
            do {
                _ = try UplinkTLS(settings)
                return "built"
            } catch {
                return error.key ?? "-"
            }
        }
        #expect(key(UplinkTLSSettings(caFile: ca)) == "built")
        #expect(key(UplinkTLSSettings(caFile: directory.file("missing.pem"))) == "caFile")
        #expect(key(UplinkTLSSettings(caFile: directory.file("empty.pem"))) == "caFile")
        #expect(key(UplinkTLSSettings(systemTrustStore: false)) == "systemTrustStore")
        #expect(key(UplinkTLSSettings(caFile: ca, certificateFile: client.certificate)) == "keyFile")
        #expect(key(UplinkTLSSettings(caFile: ca, keyFile: client.key)) == "certificateFile")
        #expect(key(UplinkTLSSettings(caFile: ca, certificateFile: client.certificate, keyFile: client.key)) == "built")
        #expect(key(UplinkTLSSettings(caFile: ca, certificateFile: client.certificate, keyFile: other.key)) == "keyFile")
    }

    @Test func aCAFileReplacesTheSystemStoreUnlessAskedToAddToIt() {
        #expect(UplinkTLSSettings().systemTrustStore)
        #expect(!UplinkTLSSettings(caFile: "ca.pem").systemTrustStore)
        #expect(UplinkTLSSettings(caFile: "ca.pem", systemTrustStore: true).systemTrustStore)
    }

    @Test func sniCarriesTheServerNameOrTheHostButNeverAnAddress() throws {
        let plain = try UplinkTLS(UplinkTLSSettings())
        #expect(plain.serverHostname(for: "cloud.example.org") == "cloud.example.org")
        #expect(plain.serverHostname(for: "192.0.2.7") == nil)
        #expect(plain.serverHostname(for: "2001:db8::1") == nil)
        let named = try UplinkTLS(UplinkTLSSettings(serverName: "cloud.example.org"))
        #expect(named.serverHostname(for: "192.0.2.7") == "cloud.example.org")
    }

    @Test func boringSSLReasonsAreShortenedForTheLog() {
        let text = "handshakeFailed(NIOSSL.BoringSSLError.sslError([Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /x.cc:1]))"
        #expect(UplinkConnectError.shortReason(text) == "CERTIFICATE_VERIFY_FAILED")
        #expect(UplinkConnectError.shortReason("something else") == "something else")
    }
}

@Suite("Gateway config: server.tls, server.proxy, server.compression")
struct UplinkConfigTests {
    func load(_ server: String, files: [String: String] = [:]) throws -> (GatewayConfig?, [String]) {
        let directory = try TemporaryDirectory()
        try directory.write("token", "t\n")
        for (name, text) in files { try directory.write(name, text) }
        try directory.write("gateway.json", #"{ "gatewayId": "gw", "server": \#(server) }"#)
        do {
            return (try GatewayConfig.load(file: directory.file("gateway.json")), [])
        } catch {
            let prefix = directory.file("gateway.json") + ": "
            return (nil, error.errors.map { $0.description.replacingOccurrences(of: prefix, with: "") })
        }
    }

    @Test func defaultsAreSystemTLSProxyFromTheEnvironmentAndCompression() throws {
        let (config, errors) = try load(#"{ "url": "wss://cloud.example.org/gateway/v1", "tokenFile": "token" }"#)
        #expect(errors.isEmpty)
        #expect(config?.uplink == UplinkOptions(tls: UplinkTLSSettings(), proxy: .environment, compression: true))
        let (plain, _) = try load(#"{ "url": "ws://cloud.example.org/gateway/v1", "tokenFile": "token" }"#)
        #expect(plain?.uplink.tls == nil)
    }

    @Test func everyKeyIsReadWithPathsResolvedAgainstTheConfigFolder() throws {
        let directory = try TemporaryDirectory()
        let pki = try TestPKI(in: directory)
        let ca = try pki.writeAuthority()
        let client = try pki.write(try pki.client(name: "gw"), as: "client")
        let pin = pki.authority.pin
        let (config, errors) = try load(#"""
        { "url": "wss://10.1.2.3/gateway/v1", "tokenFile": "token", "compression": false, "proxy": "none",
          "tls": { "caFile": "\#(ca)", "systemTrustStore": true, "pinnedKeys": ["\#(pin)"],
                   "certificateFile": "\#(client.certificate)", "keyFile": "\#(client.key)", "serverName": "cloud.example.org" } }
        """#)
        #expect(errors.isEmpty)
        let expected = UplinkTLSSettings(
            caFile: ca, systemTrustStore: true, pinnedKeys: [try #require(SPKIPin(base64: pin))],
            certificateFile: client.certificate, keyFile: client.key, serverName: "cloud.example.org"
        )
        #expect(config?.uplink == UplinkOptions(tls: expected, proxy: .direct, compression: false))
    }

    @Test func mistakesAreReportedAtTheirJSONPaths() throws {
        let (_, errors) = try load(#"""
        { "url": "wss://cloud.example.org/gateway/v1", "tokenFile": "token", "proxy": "socks5://p:1080", "compression": "yes",
          "tls": { "caFile": "missing.pem", "pinnedKeys": ["abc", 5], "serverName": "192.0.2.1", "pin": [] } }
        """#)
        #expect(errors.contains { $0.hasPrefix("$.server.proxy: only http:// proxies are supported") && $0.hasSuffix(#"(or "none" for a direct connection)"#) })
        #expect(errors.contains("$.server.compression: must be true or false, not a string"))
        #expect(errors.contains { $0.hasPrefix("$.server.tls.pinnedKeys[0]: must be the base64 SHA-256 digest") })
        #expect(errors.contains { $0.hasPrefix("$.server.tls.pinnedKeys[1]: must be the base64 SHA-256 digest") })
        #expect(errors.contains { $0.hasPrefix("$.server.tls.serverName: must be a host name: an IP address cannot be sent in SNI") })
        #expect(errors.contains("$.server.tls.pin: unknown key"))
    }

    @Test func unreadableFilesAreReportedAtTheirKeys() throws {
        let (_, errors) = try load(#"""
        { "url": "wss://cloud.example.org/gateway/v1", "tokenFile": "token", "tls": { "caFile": "missing.pem" } }
        """#)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("$.server.tls.caFile: ") == true)
        #expect(errors.first?.contains("missing.pem: not a readable PEM certificate file") == true)
        let (_, unpaired) = try load(#"""
        { "url": "wss://cloud.example.org/gateway/v1", "tokenFile": "token", "tls": { "certificateFile": "c.pem" } }
        """#)
        #expect(unpaired == ["$.server.tls.keyFile: is required with certificateFile"])
    }

    @Test func tlsOnAPlainURLIsAMistake() throws {
        let (_, errors) = try load(#"{ "url": "ws://cloud.example.org/gateway/v1", "tokenFile": "token", "tls": {} }"#)
        #expect(errors == ["$.server.tls: applies only to wss:// URLs"])
    }
}
