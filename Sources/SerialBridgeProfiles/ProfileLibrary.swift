import SerialBridgeJSON

#if canImport(Glibc)
import Glibc
#endif

/// Every profile found in a set of folders and files, by name.
public struct ProfileLibrary: Sendable {
    /// Profiles by name.
    public private(set) var profiles: [String: DeviceProfile]
    /// Which file each profile came from.
    public private(set) var sources: [String: String]

    /// Creates a library from already-loaded profiles.
    public init(_ profiles: [DeviceProfile] = []) {
        self.profiles = Dictionary(profiles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.sources = [:]
    }

    /// Loads every `*.json` file in `paths` (folders are read one level deep, so a `schema`
    /// subfolder is not read). Collects all errors of all files, including two files defining the
    /// same name.
    /// - Throws: ``ConfigErrors`` when any file is broken.
    public static func load(paths: [String]) throws(ConfigErrors) -> ProfileLibrary {
        var library = ProfileLibrary()
        var errors: [ConfigError] = []
        for file in profileFiles(in: paths, errors: &errors) {
            do {
                let profile = try ProfileLoader.load(file: file)
                if let other = library.sources[profile.name] {
                    errors.append(ConfigError(file: file, path: "$.name", message: "profile \"\(profile.name)\" is already defined in \(other)"))
                } else {
                    library.profiles[profile.name] = profile
                    library.sources[profile.name] = file
                }
            } catch {
                errors.append(contentsOf: error.errors)
            }
        }
        guard errors.isEmpty else { throw ConfigErrors(errors) }
        return library
    }

    /// Reloads `paths` on top of a running library: files that load replace their profiles; a file
    /// that fails keeps the profiles it defined before (and its errors are returned); profiles
    /// whose file is gone are dropped.
    public static func reload(paths: [String], previous: ProfileLibrary) -> (library: ProfileLibrary, errors: [ConfigError]) {
        var library = ProfileLibrary()
        var errors: [ConfigError] = []
        let files = profileFiles(in: paths, errors: &errors)
        for file in files {
            var loaded: [DeviceProfile] = []
            do {
                loaded = [try ProfileLoader.load(file: file)]
            } catch {
                errors.append(contentsOf: error.errors)
                loaded = previous.sources.filter { $0.value == file }.keys.sorted().compactMap { previous.profiles[$0] }
            }
            for profile in loaded {
                if let other = library.sources[profile.name] {
                    errors.append(ConfigError(file: file, path: "$.name", message: "profile \"\(profile.name)\" is already defined in \(other)"))
                    continue
                }
                library.profiles[profile.name] = profile
                library.sources[profile.name] = file
            }
        }
        return (library, errors)
    }

    /// A fingerprint of the profile files (names, sizes, modification times): a change means a
    /// reload is due.
    public static func fingerprint(paths: [String]) -> [String] {
        var ignored: [ConfigError] = []
        return profileFiles(in: paths, errors: &ignored).map { file in
            var status = stat()
            guard stat(file, &status) == 0 else { return file }
            return "\(file):\(status.st_size):\(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec):\(status.st_ino)"
        }
    }

    /// The JSON files named by `paths`, sorted within each folder.
    public static func profileFiles(in paths: [String], errors: inout [ConfigError]) -> [String] {
        var files: [String] = []
        for path in paths {
            var status = stat()
            guard stat(path, &status) == 0 else {
                errors.append(ConfigError(file: path, path: "$", message: "no such file or folder"))
                continue
            }
            guard (status.st_mode & S_IFMT) == S_IFDIR else {
                files.append(path)
                continue
            }
            guard let directory = opendir(path) else {
                errors.append(ConfigError(file: path, path: "$", message: "cannot list folder: \(String(cString: strerror(errno)))"))
                continue
            }
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name.hasSuffix(".json"), !name.hasPrefix(".") { names.append(name) }
            }
            closedir(directory)
            for name in names.sorted() {
                files.append(path.hasSuffix("/") ? path + name : path + "/" + name)
            }
        }
        return files
    }
}
