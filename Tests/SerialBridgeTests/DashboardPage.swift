import SerialBridgeJSON

/// What the dashboard tests do to a page, in the page's own terms: text under a selector, clicks,
/// form submissions. Selectors go into JavaScript as JSON string literals, so quotes in them are safe.
extension HeadlessChromium {
    /// A JavaScript string literal of `text`.
    static func literal(_ text: String) -> String {
        var writer = JSONWriter()
        writer.string(text)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The text content of the first element matching `selector` ("" when there is none).
    func text(of selector: String) async throws -> String {
        try await text("document.querySelector(\(Self.literal(selector)))?.textContent ?? ''")
    }

    /// Waits until an element matches `selector`.
    func waitForElement(_ selector: String, timeout: Duration = .seconds(30)) async throws {
        try await waitFor("document.querySelector(\(Self.literal(selector))) !== null", timeout: timeout)
    }

    /// Waits until the first element matching `selector` exists and its text contains `fragment`.
    func waitFor(_ selector: String, toContain fragment: String, timeout: Duration = .seconds(30)) async throws {
        try await waitFor(
            "(document.querySelector(\(Self.literal(selector)))?.textContent ?? '').includes(\(Self.literal(fragment)))",
            timeout: timeout
        )
    }

    /// Waits until the first element matching `selector` has exactly the text `text` (trimmed).
    func waitFor(_ selector: String, toRead text: String, timeout: Duration = .seconds(30)) async throws {
        try await waitFor(
            "(document.querySelector(\(Self.literal(selector)))?.textContent ?? '').trim() === \(Self.literal(text))",
            timeout: timeout
        )
    }

    /// Clicks the first element matching `selector`.
    func click(_ selector: String) async throws {
        try await evaluate("document.querySelector(\(Self.literal(selector))).click()")
    }

    /// Goes to a dashboard route (`#/device/…`) without reloading the page.
    func route(_ hash: String) async throws {
        try await evaluate("location.hash = \(Self.literal(hash))")
    }
}
