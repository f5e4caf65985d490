#if canImport(Glibc)
import Glibc
#endif

/// What a config gets where it says nothing and the environment neither: for now the profile
/// folders, which depend on where SerialBridge is installed.
public struct ConfigDefaults: Sendable, Hashable {
    /// The folders read when the config has no `profileFolders`: the shipped profiles, then the
    /// local ones. Those that do not exist are skipped (a missing default is not an error).
    public var profileFolders: [String]

    /// Creates defaults.
    public init(profileFolders: [String]) { self.profileFolders = profileFolders }

    /// Where packagers and `make install` put local profiles.
    public static let localProfiles = "/etc/serialbridge/profiles.d"
    /// Where a distribution package puts the shipped profiles.
    public static let systemProfiles = "/usr/share/serialbridge/profiles"

    /// The defaults of this installation: `PREFIX/share/serialbridge/profiles` when the program
    /// runs from `PREFIX/bin` and that folder exists (e.g. `/usr/local`), else
    /// `/usr/share/serialbridge/profiles`; then `/etc/serialbridge/profiles.d`.
    public static func installed(executable: String? = executablePath()) -> ConfigDefaults {
        var shipped = systemProfiles
        if let executable, let slash = executable.lastIndex(of: "/") {
            let folder = executable[..<slash]
            if folder.hasSuffix("/bin") {
                let candidate = folder.dropLast(4) + "/share/serialbridge/profiles"
                if isDirectory(String(candidate)) { shipped = String(candidate) }
            }
        }
        return ConfigDefaults(profileFolders: [shipped, localProfiles])
    }

    /// The running program's path (`/proc/self/exe`), nil where there is no procfs.
    public static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }
}
