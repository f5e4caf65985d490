import Foundation
import SerialBridgeProtocol
import Testing

/// The dashboard in a real browser: Debian's headless Chromium loads the page from a real server and
/// renders the device list it fetches. (Headless virtual time waits for fetches but not for a
/// WebSocket handshake, so the live link is not asserted here.)
@Suite("Dashboard in headless Chromium", .serialized)
struct DashboardBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test func theDashboardListsDevicesWithTheirLatestValues() async throws {
        guard let chromium = Self.chromium else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("chromium is not installed (scripts/test.sh installs it)")
            } else {
                print("skipped: chromium is not installed (apt-get install -y chromium)")
            }
            return
        }
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let reading = Reading(
            gateway: "gw-test", id: ReadingID(epoch: 1, sequence: 1), device: "greenhouse", profile: "generic-csv-lines",
            timestamp: Int64(Date().timeIntervalSince1970 * 1000),
            values: [NamedValue(name: "temperature", value: .float(21.5), unit: "°C"), NamedValue(name: "pm2_5", value: .float(1500), unit: "µg/m³")],
            outOfRange: ["pm2_5"]
        )
        _ = try await server.store.insert([reading], receivedAt: 0)
        let port = server.port
        let dom = try await offThePool { try Self.dumpDOM(chromium, url: "http://127.0.0.1:\(port)/", budgetMs: 5000) }
        #expect(dom.contains(#"id="dev-gw-test:greenhouse""#), "\(dom.prefix(2000))")
        #expect(dom.contains("<b>21.5</b>"))
        #expect(dom.contains(#"class="value out-of-range""#))
        #expect(dom.contains(#"<span id="count" style="color:var(--muted)">1 device</span>"#))
        try await server.stop()
    }

    /// The page's DOM after `budgetMs` of virtual time.
    static func dumpDOM(_ chromium: String, url: String, budgetMs: Int) throws -> String {
        let profile = try TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
            "--virtual-time-budget=\(budgetMs)", "--dump-dom", url,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let dom = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return dom
    }
}

@Suite("Chromium over the DevTools protocol", .serialized)
struct HeadlessChromiumTests {
    @Test func aLivePageIsDrivenOverDevTools() async throws {
        guard let binary = HeadlessChromium.required() else { return }
        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        let browser = try await HeadlessChromium(binary: binary, url: "http://127.0.0.1:\(server.port)/")
        #expect(try await browser.text("document.title") == "SerialBridge")
        try await browser.waitFor("document.getElementById('link').classList.contains('up')")
        #expect(browser.consoleErrors.isEmpty, "\(browser.consoleErrors)")
        #expect(try await browser.screenshot().prefix(4) == [0x89, 0x50, 0x4E, 0x47])
        await browser.close()
        try await server.stop()
    }
}
