import HTTPTypes
import Hummingbird
import NIOCore

/// One file of the dashboard, as served.
struct DashboardAsset: Sendable {
    /// URL path.
    let path: String
    /// Name of the file in `Sources/SerialBridgeServer/Dashboard`, relative to it.
    let file: String
    /// `Content-Type`.
    let contentType: String
    /// The file's bytes, embedded in the binary at build time.
    let bytes: [UInt8]
    /// Strong validator: a hash of the bytes, so a browser revalidates cheaply and never runs a
    /// stale mix of modules after an upgrade.
    let eTag: String

    init(_ path: String, file: String, _ contentType: String, _ bytes: [UInt8]) {
        self.path = path
        self.file = file
        self.contentType = contentType
        self.bytes = bytes
        self.eTag = "\"\(DashboardAssets.fnv1a(bytes))\""
    }
}

/// The dashboard: HTML, CSS and JavaScript modules from `Sources/SerialBridgeServer/Dashboard`,
/// embedded in the binary by SwiftPM (`embedInCode`), so the server needs no files beside it and
/// the page loads nothing from elsewhere (it works on isolated networks). `/` is the page; the
/// rest lives under `/dashboard/`.
enum DashboardAssets {
    private static let html = "text/html; charset=utf-8"
    private static let css = "text/css; charset=utf-8"
    private static let javascript = "text/javascript; charset=utf-8"

    /// Every file served. SwiftPM names an embedded file after its base name (`views/device.js`
    /// becomes `device_js`), so base names must be unique across the folder.
    static let all: [DashboardAsset] = [
        DashboardAsset("/", file: "index.html", html, PackageResources.index_html),
        DashboardAsset("/dashboard/app.css", file: "app.css", css, PackageResources.app_css),
        DashboardAsset("/dashboard/app.js", file: "app.js", javascript, PackageResources.app_js),
        DashboardAsset("/dashboard/api.js", file: "api.js", javascript, PackageResources.api_js),
        DashboardAsset("/dashboard/live.js", file: "live.js", javascript, PackageResources.live_js),
        DashboardAsset("/dashboard/chart.js", file: "chart.js", javascript, PackageResources.chart_js),
        DashboardAsset("/dashboard/router.js", file: "router.js", javascript, PackageResources.router_js),
        DashboardAsset("/dashboard/dom.js", file: "dom.js", javascript, PackageResources.dom_js),
        DashboardAsset("/dashboard/format.js", file: "format.js", javascript, PackageResources.format_js),
        DashboardAsset("/dashboard/views/state.js", file: "views/state.js", javascript, PackageResources.state_js),
        DashboardAsset("/dashboard/views/events.js", file: "views/events.js", javascript, PackageResources.events_js),
        DashboardAsset("/dashboard/views/overview.js", file: "views/overview.js", javascript, PackageResources.overview_js),
        DashboardAsset("/dashboard/views/gateway.js", file: "views/gateway.js", javascript, PackageResources.gateway_js),
        DashboardAsset("/dashboard/views/device.js", file: "views/device.js", javascript, PackageResources.device_js),
        DashboardAsset("/dashboard/views/history.js", file: "views/history.js", javascript, PackageResources.history_js),
        DashboardAsset("/dashboard/views/readings.js", file: "views/readings.js", javascript, PackageResources.readings_js),
        DashboardAsset("/dashboard/views/commands.js", file: "views/commands.js", javascript, PackageResources.commands_js),
        DashboardAsset("/dashboard/views/rawview.js", file: "views/rawview.js", javascript, PackageResources.rawview_js),
    ]

    /// What the page may load and connect to: this server only. Nothing inline but the favicon's
    /// data URL, no framing by other sites.
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    private static let referrerPolicy = HTTPField.Name("Referrer-Policy")

    /// Registers a GET route per file.
    static func register<Context: RequestContext>(on router: some RouterMethods<Context>) {
        for asset in all {
            router.get(RouterPath(asset.path)) { request, _ in
                response(asset, ifNoneMatch: request.headers[values: .ifNoneMatch])
            }
        }
    }

    /// The file, or 304 when the browser already holds this version. Browsers revalidate every
    /// time (`no-cache`), so a new server version is picked up on the next load.
    static func response(_ asset: DashboardAsset, ifNoneMatch: [String]) -> Response {
        var headers: HTTPFields = [
            .contentType: asset.contentType,
            .cacheControl: "no-cache",
            .eTag: asset.eTag,
            .xContentTypeOptions: "nosniff",
        ]
        if asset.contentType == html {
            headers[.contentSecurityPolicy] = contentSecurityPolicy
            if let referrerPolicy { headers[referrerPolicy] = "same-origin" }
        }
        if ifNoneMatch.contains(where: { $0 == asset.eTag || $0 == "*" }) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }

    /// 64-bit FNV-1a of `bytes`, in hex.
    static func fnv1a(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
