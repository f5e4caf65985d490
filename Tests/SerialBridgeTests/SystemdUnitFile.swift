import Foundation

/// A systemd unit file as the tests read it: sections of `Key=value` settings, in order, with
/// repeated keys kept (`DeviceAllow=`, `LoadCredential=`, …), comments dropped and
/// backslash-continued lines joined, as systemd reads them.
struct SystemdUnitFile {
    /// One `Key=value` line.
    struct Setting: Equatable {
        var section: String
        var key: String
        var value: String
    }

    let path: String
    let settings: [Setting]

    /// Reads and parses `path`.
    init(path: String) throws {
        self.path = path
        self.settings = Self.parse(try String(contentsOfFile: path, encoding: .utf8))
    }

    /// Parses unit file text.
    static func parse(_ text: String) -> [Setting] {
        var settings: [Setting] = []
        var section = ""
        var pending = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(rawLine)
            if pending.isEmpty {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            }
            if line.hasSuffix("\\") {
                line.removeLast()
                pending += line + " "
                continue
            }
            line = (pending + line).trimmingCharacters(in: .whitespaces)
            pending = ""
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
            } else if let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimmingCharacters(in: .whitespaces)
                let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                settings.append(Setting(section: section, key: key, value: value))
            }
        }
        return settings
    }

    /// Every value of `key` in `section`, in order. An empty assignment resets a list in systemd,
    /// so only the values after the last empty one count.
    func values(_ key: String, in section: String = "Service") -> [String] {
        var result: [String] = []
        for setting in settings where setting.section == section && setting.key == key {
            if setting.value.isEmpty { result = [] } else { result.append(setting.value) }
        }
        return result
    }

    /// The last value of `key` in `section` (a later line overrides an earlier one).
    func value(_ key: String, in section: String = "Service") -> String? {
        settings.last { $0.section == section && $0.key == key }?.value
    }

    /// Whether a boolean setting is on (`yes`, `true`, `on`, `1`).
    func isOn(_ key: String, in section: String = "Service") -> Bool {
        guard let value = value(key, in: section)?.lowercased() else { return false }
        return ["yes", "true", "on", "1"].contains(value)
    }

    /// The whitespace-separated words of every value of `key` (list settings).
    func words(_ key: String, in section: String = "Service") -> [String] {
        values(key, in: section).flatMap { $0.split(separator: " ").map(String.init) }
    }

    /// Whether `RestrictAddressFamilies=` lets the service create sockets of `family`: no setting
    /// allows all; a list allows its families; a `~` list allows all but its families.
    func allowsAddressFamily(_ family: String) -> Bool {
        let lines = values("RestrictAddressFamilies")
        if lines.isEmpty { return true }
        if lines.contains("none") { return false }
        var allowed: Set<String>? = nil
        var denied: Set<String> = []
        for line in lines {
            if line.hasPrefix("~") {
                denied.formUnion(line.dropFirst().split(separator: " ").map(String.init))
            } else {
                allowed = (allowed ?? []).union(line.split(separator: " ").map(String.init))
            }
        }
        if let allowed { return allowed.contains(family) && !denied.contains(family) }
        return !denied.contains(family)
    }

    /// `DeviceAllow=` entries as (device, access), e.g. ("char-ttyUSB", "rw").
    var deviceAllow: [(device: String, access: String)] {
        values("DeviceAllow").map { value in
            let parts = value.split(separator: " ", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "rwm")
        }
    }

    /// `ExecStart=`'s words (the first is the binary; a `-`, `@`, `+`, `!` prefix is dropped).
    var execStart: [String] {
        guard let line = value("ExecStart") else { return [] }
        var words = line.split(separator: " ").map(String.init)
        if var binary = words.first {
            while let first = binary.first, "-@+!:".contains(first) { binary.removeFirst() }
            words[0] = binary
        }
        return words
    }

    /// The value following `option` in `ExecStart=` (`--tokens FILE` → `FILE`).
    func execStartOption(_ option: String) -> String? {
        let words = execStart
        guard let index = words.firstIndex(of: option), index + 1 < words.count else { return nil }
        return words[index + 1]
    }
}
