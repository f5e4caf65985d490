import Foundation
import HTTPTypes
@testable import SerialBridgeServer
import Testing

@Suite("Dashboard files: embedded in the server and served with validators", .serialized)
struct DashboardAssetTests {
    static let folder = Repository.root.appendingPathComponent("Sources/SerialBridgeServer/Dashboard")

    /// Every file of the folder, relative to it.
    static func files() throws -> Set<String> {
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        var files: Set<String> = []
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.insert(name)
            }
        }
        return files
    }

    @Test func everyFileOfTheFolderIsServedAsItIsWithItsTypeAndAValidator() async throws {
        let files = try Self.files()
        #expect(Set(DashboardAssets.all.map(\.file)) == files)
        // SwiftPM names embedded files by base name: two files with one base name would collide.
        #expect(Set(files.map { ($0 as NSString).lastPathComponent }).count == files.count)

        let logs = LogCapture()
        let server = try await TestServer(gateway: "gw-test", logger: logs.logger("server"))
        for asset in DashboardAssets.all {
            let answer = try await http("GET", port: server.port, asset.path)
            let onDisk = try String(contentsOf: Self.folder.appendingPathComponent(asset.file), encoding: .utf8)
            #expect(answer.status == 200, "\(asset.path)")
            #expect(answer.body == onDisk, "\(asset.path)")
            #expect(answer.header("ETag") == asset.eTag)
            #expect(answer.header("Cache-Control") == "no-cache")
            #expect(answer.header("X-Content-Type-Options") == "nosniff")
            let type = try #require(answer.header("Content-Type"))
            switch (asset.file as NSString).pathExtension {
            case "html": #expect(type == "text/html; charset=utf-8")
            case "css": #expect(type == "text/css; charset=utf-8")
            default: #expect(type == "text/javascript; charset=utf-8", "\(asset.path)")
            }
        }
        let page = try await http("GET", port: server.port, "/")
        #expect(page.header("Content-Security-Policy")?.contains("default-src 'self'") == true)
        #expect(page.body.contains(#"<script type="module" src="/dashboard/app.js">"#))
        try await server.stop()
    }

    @Test func aBrowserHoldingTheCurrentVersionIsToldItIsNotModified() throws {
        let asset = try #require(DashboardAssets.all.first { $0.path == "/dashboard/app.js" })
        let cached = DashboardAssets.response(asset, ifNoneMatch: [asset.eTag])
        #expect(cached.status == .notModified)
        #expect(cached.headers[.eTag] == asset.eTag)
        #expect(DashboardAssets.response(asset, ifNoneMatch: ["\"0000000000000000\""]).status == .ok)
        #expect(DashboardAssets.response(asset, ifNoneMatch: []).status == .ok)
        // Different files, different validators; the same bytes, the same one.
        #expect(Set(DashboardAssets.all.map(\.eTag)).count == DashboardAssets.all.count)
        #expect(DashboardAssets.fnv1a(Array("a".utf8)) == "af63dc4c8601ec8c")
    }
}
