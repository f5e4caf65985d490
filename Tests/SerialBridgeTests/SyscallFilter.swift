/// What a unit's `SystemCallFilter=` lines let through, with the `@group` names expanded the way
/// this machine's systemd defines them (`systemd-analyze syscall-filter`).
struct SyscallFilter {
    /// Group name (with `@`) → its members, which may name further groups.
    let groups: [String: [String]]

    /// Parses the output of `systemd-analyze syscall-filter`: a `@group` line, then its members
    /// indented, `#` comments anywhere.
    init(systemdAnalyzeOutput text: String) {
        var groups: [String: [String]] = [:]
        var current: String?
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if !line.hasPrefix(" ") {
                current = trimmed
                groups[trimmed, default: []] = []
            } else if let current {
                groups[current, default: []].append(trimmed)
            }
        }
        self.groups = groups
    }

    /// The system calls `name` stands for: a group's members, recursively, or the call itself.
    func expand(_ name: String) -> Set<String> {
        var seen: Set<String> = []
        var result: Set<String> = []
        var stack = [name]
        while let next = stack.popLast() {
            guard next.hasPrefix("@") else { result.insert(next); continue }
            guard seen.insert(next).inserted else { continue }
            stack.append(contentsOf: groups[next] ?? [])
        }
        return result
    }

    /// Whether `lines` (a unit's `SystemCallFilter=` values, in order) let `call` through. The first
    /// line sets the mode: an allow list, or a deny list when it starts with `~`; later lines of the
    /// other kind take calls out again, as systemd combines them.
    func allows(_ call: String, lines: [String]) -> Bool {
        guard let first = lines.first else { return true }
        let allowList = !first.hasPrefix("~")
        var listed: Set<String> = []
        for line in lines {
            let deny = line.hasPrefix("~")
            let names = (deny ? String(line.dropFirst()) : line).split(separator: " ").map(String.init)
            let calls = names.reduce(into: Set<String>()) { $0.formUnion(expand($1)) }
            if deny == !allowList { listed.formUnion(calls) } else { listed.subtract(calls) }
        }
        return allowList ? listed.contains(call) : !listed.contains(call)
    }
}
