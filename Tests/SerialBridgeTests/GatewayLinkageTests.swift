import Foundation
import Testing

/// The gateway binary stays free of full Foundation and its ICU: together they map ~39 MB into every
/// gateway, twice the footprint target of an edge box (docs/RELEASE.md). FoundationEssentials is fine.
///
/// A dependency that starts importing `Foundation`, or a package trait that turns it on (Hummingbird's
/// default `FullFoundation`), fails here rather than on a box. Checked on the debug build the suite
/// runs beside: the dynamic linkage shows exactly which Swift libraries the binary pulls in.
@Suite struct GatewayLinkageTests {
    /// Libraries that only full Foundation brings (FoundationEssentials has no ICU).
    static let forbidden = [
        "libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so",
        "libFoundationNetworking.so", "libFoundationXML.so",
    ]

    @Test func gatewayLinksNeitherFoundationNorICU() throws {
        let binary = try #require(BuiltProducts.path("serialbridge"), "serialbridge is not built (swift build --build-tests)")
        let listing = String(decoding: try ChildProcess.output("/usr/bin/ldd", [binary]), as: UTF8.self)
        // ldd ran and resolved the binary: otherwise the absence below would prove nothing.
        try #require(listing.contains("libswiftCore.so") && listing.contains("libc.so"), "unexpected ldd output: \(listing)")
        for library in Self.forbidden {
            #expect(
                !listing.contains(library),
                """
                \(binary) links \(library): a module in the gateway's graph imports full Foundation \
                (after a change of package traits, objects built before it may still carry the old \
                autolink entries: touch Sources/SerialBridgeCLI/*.swift and rebuild)
                """
            )
        }
    }
}
