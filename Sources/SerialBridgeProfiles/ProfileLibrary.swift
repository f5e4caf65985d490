#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
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

    /// Loads every `*.json` file in `paths` (folders are read one level deep; `schema` subfolders
    /// are skipped). Collects all errors of all files, including two files defining the same name.
    /// - Throws: ``ProfileErrors`` when any file is broken.
    public static func load(paths: [String]) throws(ProfileErrors) -> ProfileLibrary {
        var library = ProfileLibrary()
        var errors: [ProfileError] = []
        for file in profileFiles(in: paths, errors: &errors) {
            do {
                let profile = try ProfileLoader.load(file: file)
                if let other = library.sources[profile.name] {
                    errors.append(ProfileError(file: file, path: "$.name", message: "profile \"\(profile.name)\" is already defined in \(other)"))
                } else {
                    library.profiles[profile.name] = profile
                    library.sources[profile.name] = file
                }
            } catch {
                errors.append(contentsOf: error.errors)
            }
        }
        guard errors.isEmpty else { throw ProfileErrors(errors) }
        return library
    }

    /// The JSON files named by `paths`, sorted within each folder.
    public static func profileFiles(in paths: [String], errors: inout [ProfileError]) -> [String] {
        var files: [String] = []
        let manager = FileManager.default
        for path in paths {
            var isDirectory = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                errors.append(ProfileError(file: path, path: "$", message: "no such file or folder"))
                continue
            }
            if isDirectory {
                let names = (try? manager.contentsOfDirectory(atPath: path)) ?? []
                for name in names.sorted() where name.hasSuffix(".json") {
                    files.append(path.hasSuffix("/") ? path + name : path + "/" + name)
                }
            } else {
                files.append(path)
            }
        }
        return files
    }
}
