#if canImport(Glibc)
import Glibc
#endif

/// Chooses the profile for an attached device from its udev properties and paths.
public enum ProfileMatcher {
    /// A device as the matcher sees it.
    public struct Candidate: Sendable, Hashable {
        /// udev properties (ID_VENDOR_ID, ID_MODEL_ID, ID_SERIAL_SHORT, ID_PATH, DRIVER, …).
        public var properties: [String: String]
        /// Device node and its links, e.g. `/dev/ttyUSB0`, `/dev/serial/by-id/usb-…`.
        public var paths: [String]

        /// Creates a candidate.
        public init(properties: [String: String], paths: [String]) {
            self.properties = properties
            self.paths = paths
        }
    }

    /// The outcome of matching.
    public enum Outcome: Sendable {
        /// The highest-priority matching profile.
        case matched(DeviceProfile)
        /// No profile matched; one line per profile with a match rule, saying why not.
        case unmatched(reasons: [String])
        /// Several profiles matched with the same top priority; none is chosen.
        case ambiguous(names: [String])
    }

    /// Matches `candidate` against every profile that has a match rule.
    public static func match(_ candidate: Candidate, profiles: [DeviceProfile]) -> Outcome {
        var matched: [DeviceProfile] = []
        var reasons: [String] = []
        for profile in profiles.sorted(by: { $0.name < $1.name }) {
            guard let rule = profile.match else { continue }
            if let reason = mismatch(candidate, rule) {
                reasons.append("\(profile.name): \(reason)")
            } else {
                matched.append(profile)
            }
        }
        guard let top = matched.map({ $0.match?.priority ?? 0 }).max() else { return .unmatched(reasons: reasons) }
        let best = matched.filter { ($0.match?.priority ?? 0) == top }
        if best.count > 1 { return .ambiguous(names: best.map(\.name)) }
        return .matched(best[0])
    }

    /// Why `rule` does not match, or nil when it does.
    static func mismatch(_ candidate: Candidate, _ rule: MatchRule) -> String? {
        for (name, pattern) in rule.properties.sorted(by: { $0.key < $1.key }) {
            guard let value = candidate.properties[name] else { return "\(name) is not set" }
            guard glob(pattern, value) else { return "\(name)=\(value) does not match \(pattern)" }
        }
        if !rule.paths.isEmpty, !candidate.paths.contains(where: { path in rule.paths.contains { glob($0, path) } }) {
            return "no path matches \(rule.paths.joined(separator: ", "))"
        }
        return nil
    }

    /// Shell-style glob (`*`, `?`, `[...]`); a pattern without wildcards is an exact match.
    public static func glob(_ pattern: String, _ value: String) -> Bool {
        fnmatch(pattern, value, 0) == 0
    }
}
