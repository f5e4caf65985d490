import Foundation
import Logging
import SerialBridgeJSON
import Synchronization
import Testing
import WSClient

/// Debian's Chromium, headless, driven over the DevTools protocol: open a page, evaluate
/// JavaScript in it, wait for a condition, collect console errors, take a screenshot.
///
/// One browser per test; ``close()`` ends it (and removes its profile directory).
final class HeadlessChromium: Sendable {
    /// The Chromium binary, when installed.
    static let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Returns the binary, or records an issue under CI / prints a skip note otherwise.
    static func required() -> String? {
        if let binary { return binary }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("chromium is not installed (scripts/test.sh installs it)")
        } else {
            print("skipped: chromium is not installed (apt-get install -y chromium)")
        }
        return nil
    }

    private let process: Process
    private let profile: TemporaryDirectory
    private let connection: Task<Void, any Error>
    private let shared = Shared()

    /// What the connection task and the callers share.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private struct State {
        var outbound: WebSocketOutboundWriter?
        var nextID = 0
        var waiting: [Int: CheckedContinuation<JSONNode, any Error>] = [:]
        var sessionID: String?
        /// Console errors and uncaught exceptions seen in the page.
        var errors: [String] = []
    }

    /// Errors the page wrote to its console, and uncaught exceptions.
    var consoleErrors: [String] { shared.state.withLock { $0.errors } }

    /// Starts Chromium and opens `url` in a new page.
    init(binary: String, url: String, width: Int = 1280, height: Int = 800) async throws {
        profile = try TemporaryDirectory()
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)", "--remote-debugging-port=0",
            // DevTools refuses WebSocket clients that send an Origin (as WSClient does) unless allowed.
            "--remote-allow-origins=*",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
            "--window-size=\(width),\(height)", "about:blank",
        ]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Chromium prints its DevTools address on stderr once it listens.
        let reader = errors.fileHandleForReading
        let started = process
        let endpoint: String
        do {
            endpoint = try await Self.devToolsAddress(reader)
        } catch {
            started.terminate()
            started.waitUntilExit()
            throw error
        }
        // Keep draining stderr so Chromium never blocks on a full pipe.
        Thread { while !reader.availableData.isEmpty {} }.start()
        // From here on `deinit` ends the browser if anything below fails.
        connection = Self.connect(to: endpoint, shared: shared)
        try await eventually("DevTools connection", timeout: .seconds(30)) { shared.state.withLock { $0.outbound != nil } }
        let target = try await send("Target.createTarget", ["url": .string("about:blank")], session: false)
        guard case .string(let targetID)? = target["targetId"] else { throw TimedOut(what: "no targetId in \(target)") }
        let attached = try await send("Target.attachToTarget", ["targetId": .string(targetID), "flatten": .bool(true)], session: false)
        guard case .string(let sessionID)? = attached["sessionId"] else { throw TimedOut(what: "no sessionId in \(attached)") }
        shared.state.withLock { $0.sessionID = sessionID }
        _ = try await send("Runtime.enable", [:])
        _ = try await send("Page.enable", [:])
        try await navigate(to: url)
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    private static func devToolsAddress(_ reader: FileHandle) async throws -> String {
        try await offThePool {
            var seen = ""
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { throw TimedOut(what: "chromium exited before printing its DevTools address: \(seen.suffix(500))") }
                seen += String(decoding: chunk, as: UTF8.self)
                if let range = seen.range(of: "ws://"), let end = seen[range.lowerBound...].firstIndex(where: { $0 == "\n" || $0 == "\r" }) {
                    return String(seen[range.lowerBound..<end])
                }
            }
        }
    }

    private static func connect(to endpoint: String, shared: Shared) -> Task<Void, any Error> {
        var logger = Logger(label: "cdp")
        logger.logLevel = .critical
        return Task { [logger] in
            try await WebSocketClient.connect(url: endpoint, configuration: .init(maxFrameSize: 64 << 20), logger: logger) { inbound, outbound, _ in
                shared.state.withLock { $0.outbound = outbound }
                for try await message in inbound.messages(maxSize: 64 << 20) {
                    guard case .text(let text) = message, let node = try? JSONParser.parse(Array(text.utf8)) else { continue }
                    Self.dispatch(node, shared: shared)
                }
                let orphans = shared.state.withLock { state in
                    defer { state.waiting = [:] }
                    return Array(state.waiting.values)
                }
                for waiter in orphans { waiter.resume(throwing: TimedOut(what: "the DevTools connection closed")) }
            }
        }
    }

    private static func dispatch(_ node: JSONNode, shared: Shared) {
        if case .integer(let id)? = node["id"] {
            let waiter = shared.state.withLock { $0.waiting.removeValue(forKey: Int(id)) }
            if let error = node["error"] {
                waiter?.resume(throwing: TimedOut(what: "DevTools error: \(error)"))
            } else {
                waiter?.resume(returning: node["result"] ?? .null)
            }
            return
        }
        guard case .string(let method)? = node["method"] else { return }
        switch method {
        case "Runtime.consoleAPICalled":
            guard case .string("error")? = node["params"]?["type"] else { return }
            shared.state.withLock { $0.errors.append("console.error: \(node["params"]?["args"] ?? .null)") }
        case "Runtime.exceptionThrown":
            shared.state.withLock { $0.errors.append("exception: \(node["params"]?["exceptionDetails"] ?? .null)") }
        default:
            break
        }
    }

    /// Sends one DevTools command (to the page's session unless `session` is false) and returns its result.
    @discardableResult
    func send(_ method: String, _ parameters: [String: JSONNode], session: Bool = true) async throws -> JSONNode {
        try await withCheckedThrowingContinuation { continuation in
            let (outbound, text) = shared.state.withLock { state -> (WebSocketOutboundWriter?, String) in
                state.nextID += 1
                state.waiting[state.nextID] = continuation
                var fields: [(String, JSONNode)] = [("id", .integer(Int64(state.nextID))), ("method", .string(method)),
                                                     ("params", .object(parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))]
                if session, let sessionID = state.sessionID { fields.append(("sessionId", .string(sessionID))) }
                var writer = JSONWriter()
                writer.node(.object(fields))
                return (state.outbound, String(decoding: writer.bytes, as: UTF8.self))
            }
            guard let outbound else {
                continuation.resume(throwing: TimedOut(what: "DevTools is not connected"))
                return
            }
            Task { try await outbound.write(.text(text)) }
        }
    }

    /// Loads `url` and waits until its document has loaded.
    func navigate(to url: String) async throws {
        _ = try await send("Page.navigate", ["url": .string(url)])
        try await waitFor("document.readyState === 'complete' && location.href !== 'about:blank'")
    }

    /// Evaluates `expression` in the page (promises are awaited) and returns its value as JSON.
    @discardableResult
    func evaluate(_ expression: String) async throws -> JSONNode {
        let result = try await send("Runtime.evaluate", [
            "expression": .string(expression), "returnByValue": .bool(true), "awaitPromise": .bool(true),
        ])
        if let details = result["exceptionDetails"] { throw TimedOut(what: "page exception: \(details)") }
        return result["result"]?["value"] ?? .null
    }

    /// The text of `expression`'s string value, or "" when it is not a string.
    func text(_ expression: String) async throws -> String {
        if case .string(let text) = try await evaluate(expression) { return text }
        return ""
    }

    /// Waits until `condition` (a JavaScript expression) is true in the page.
    func waitFor(_ condition: String, timeout: Duration = .seconds(30)) async throws {
        try await eventually("page condition: \(condition)", timeout: timeout) {
            (try? await self.evaluate("Boolean(\(condition))")) == .bool(true)
        }
    }

    /// A PNG screenshot of the page.
    func screenshot() async throws -> [UInt8] {
        let result = try await send("Page.captureScreenshot", ["format": .string("png")])
        guard case .string(let base64)? = result["data"], let bytes = Base64.decode(base64) else {
            throw TimedOut(what: "no screenshot data")
        }
        return bytes
    }

    /// Ends the browser.
    func close() async {
        process.terminate()
        process.waitUntilExit()
        connection.cancel()
        _ = try? await connection.value
    }
}
