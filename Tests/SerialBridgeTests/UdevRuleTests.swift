import Foundation
import Testing

/// systemd/99-serialbridge.rules, read without udevd (none runs here, and `udevadm test` would
/// change device ownership): every line is well formed, and it agrees with the gateway's unit.
@Suite("udev rule: dialout ports and stable links")
struct UdevRuleTests {
    /// One `KEY{attr}OP"value"` of a rule line.
    struct Term: Equatable {
        var key: String
        var op: String
        var value: String
    }

    static let knownKeys: Set<String> = [
        "ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "KERNELS", "DRIVER", "DRIVERS", "ENV", "ATTR",
        "ATTRS", "TAG", "GROUP", "OWNER", "MODE", "SYMLINK", "GOTO", "LABEL", "RUN", "IMPORT", "NAME",
    ]

    static func rules() throws -> [[Term]] {
        let text = try String(contentsOfFile: Repository.root.appendingPathComponent("systemd/99-serialbridge.rules").path, encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line -> [Term]? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
            return try parse(trimmed)
        }
    }

    struct Malformed: Error, CustomStringConvertible { var description: String }

    /// Splits a rule line into its terms; throws on anything udev would reject.
    static func parse(_ line: String) throws -> [Term] {
        let pattern = /\s*([A-Z_]+)(\{[A-Za-z0-9_.\-]+\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)/
        var terms: [Term] = []
        var rest = Substring(line)
        while !rest.isEmpty {
            guard let match = rest.prefixMatch(of: pattern) else { throw Malformed(description: "cannot read \"\(rest)\" in: \(line)") }
            let key = String(match.1)
            guard knownKeys.contains(key) else { throw Malformed(description: "unknown key \(key) in: \(line)") }
            terms.append(Term(key: key + (match.2.map(String.init) ?? ""), op: String(match.3), value: String(match.4)))
            rest = rest[match.range.upperBound...]
        }
        return terms
    }

    @Test func everyLineIsWellFormedAndEveryGotoHasItsLabel() throws {
        let rules = try Self.rules()
        #expect(rules.count >= 5)
        let labels = Set(rules.flatMap { $0 }.filter { $0.key == "LABEL" }.map(\.value))
        let gotos = Set(rules.flatMap { $0 }.filter { $0.key == "GOTO" }.map(\.value))
        #expect(!gotos.isEmpty && gotos.isSubset(of: labels))
    }

    @Test func portsGoToDialoutAndUSBAdaptersGetAStableLinkBySerialNumber() throws {
        let terms = try Self.rules().flatMap { $0 }
        #expect(terms.contains(Term(key: "GROUP", op: "=", value: "dialout")))
        #expect(terms.contains(Term(key: "MODE", op: "=", value: "0660")))
        #expect(terms.contains(Term(key: "SYMLINK", op: "+=", value: "serialbridge/$env{ID_SERIAL_SHORT}")))
        #expect(terms.contains(Term(key: "SYMLINK", op: "+=", value: "serialbridge/$env{ID_SERIAL_SHORT}-if$env{ID_USB_INTERFACE_NUM}")))
    }

    /// The rule covers exactly the device classes the gateway's unit lets it open, and the group
    /// it sets is the one the unit adds.
    @Test func agreesWithTheGatewayUnit() throws {
        let kernel = try Self.rules().flatMap { $0 }.first { $0.key == "KERNEL" && $0.op == "!=" }
        let classes = Set((kernel?.value ?? "").split(separator: "|").map { "char-" + $0.replacingOccurrences(of: "[0-9]*", with: "") })
        let unit = try SystemdUnitTests.unit("serialbridge.service")
        #expect(classes == Set(unit.deviceAllow.map(\.device)))
        #expect(unit.words("SupplementaryGroups") == ["dialout"])
    }
}
