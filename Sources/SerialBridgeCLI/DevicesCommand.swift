import ArgumentParser
import SerialBridgeDevices
import SerialBridgeJSON
import SerialBridgeProfiles

#if canImport(Glibc)
import Glibc
#endif

/// `serialbridge devices …`: the serial devices this machine has, and how they match profiles.
struct Devices: AsyncParsableCommand {
    /// Subcommands of `devices`; a new one is one more entry here.
    static let subcommandTypes: [any ParsableCommand.Type] = [List.self, Watch.self, Capture.self]

    static let configuration = CommandConfiguration(
        abstract: "List and watch serial devices, and the profiles they match.",
        subcommands: subcommandTypes
    )

    /// The property keys `list` shows by default: those profiles usually match on.
    static let keyProperties = [
        "ID_VENDOR_ID", "ID_MODEL_ID", "ID_SERIAL_SHORT", "ID_VENDOR", "ID_MODEL", "ID_PATH", "DRIVER",
    ]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every serial device: node, stable id, key properties and matching profile."
        )

        @Option(name: .long, parsing: .upToNextOption, help: "Profile files or folders (default: DeviceProfiles).")
        var profiles: [String] = []

        @Flag(name: .long, help: "Print every udev property, not only the key ones.")
        var allProperties = false

        func run() async throws {
            let library = try ProfileChoice.load(profiles)
            let devices: [SerialDeviceInfo]
            do {
                devices = try Udev().serialDevices()
            } catch {
                FileHandleOutput.standardError("\(error)\n")
                throw ExitCode(1)
            }
            var output: [UInt8] = []
            for device in devices {
                output.append(contentsOf: describe(device, library: library).utf8)
            }
            FileHandleOutput.write(1, &output)
            FileHandleOutput.standardError("\(devices.count) serial devices, \(library.profiles.count) profiles\n")
        }

        func describe(_ device: SerialDeviceInfo, library: ProfileLibrary) -> String {
            var text = "\(device.devnode)  \(device.stableID)\n"
            text += "  devpath: \(device.devpath)\n"
            let keys = allProperties ? device.properties.keys.sorted() : Devices.keyProperties
            for key in keys {
                if let value = device.properties[key] { text += "  \(key)=\(value)\n" }
            }
            for link in device.byIDLinks + device.byPathLinks { text += "  link: \(link)\n" }
            switch ProfileChoice.match(device, library) {
            case .matched(let profile):
                text += "  profile: \(profile.name)\(library.sources[profile.name].map { " (\($0))" } ?? "")\n"
            case .ambiguous(let names):
                text += "  profile: none, ambiguous: \(names.joined(separator: ", ")) match with the same priority\n"
            case .unmatched(let reasons):
                if library.profiles.isEmpty {
                    text += "  profile: none (no profiles loaded)\n"
                } else {
                    text += reasons.isEmpty ? "  profile: none (no profile has a match rule)\n" : "  profile: none\n"
                }
                for reason in reasons { text += "    \(reason)\n" }
            }
            return text + "\n"
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream device events (present devices first) as JSON lines until Ctrl-C."
        )

        @Option(name: .long, parsing: .upToNextOption, help: "Profile files or folders (default: DeviceProfiles).")
        var profiles: [String] = []

        func run() async throws {
            let library = try ProfileChoice.load(profiles)
            let watcher = DeviceWatcher()
            FileHandleOutput.standardError("watching serial devices (\(watcher.source) source); Ctrl-C to stop\n")
            do {
                for try await event in watcher {
                    var line = Self.json(event, profile: ProfileChoice.match(event.device, library))
                    line.append(0x0A)
                    FileHandleOutput.write(1, &line)
                }
            } catch {
                FileHandleOutput.standardError("\(error)\n")
                throw ExitCode(1)
            }
        }

        /// One event as a JSON object: `event`, `node`, `stableId`, `sysname`, `devpath`,
        /// `driver`, `profile`, `links`, `properties` (sorted by key).
        static func json(_ event: DeviceEvent, profile: ProfileMatcher.Outcome) -> [UInt8] {
            let device = event.device
            var writer = JSONWriter()
            writer.beginObject()
            writer.key("event"); writer.string(event.kind)
            writer.key("node"); writer.string(device.devnode)
            writer.key("stableId"); writer.string(device.stableID)
            writer.key("sysname"); writer.string(device.sysname)
            writer.key("devpath"); writer.string(device.devpath)
            writer.key("driver")
            if let driver = device.driver { writer.string(driver) } else { writer.null() }
            writer.key("profile")
            if case .matched(let matched) = profile { writer.string(matched.name) } else { writer.null() }
            writer.key("links")
            writer.beginArray()
            for link in device.byIDLinks + device.byPathLinks { writer.string(link) }
            writer.endArray()
            writer.key("properties")
            writer.beginObject()
            for (key, value) in device.properties.sorted(by: { $0.key < $1.key }) {
                writer.key(key); writer.string(value)
            }
            writer.endObject()
            writer.endObject()
            return writer.bytes
        }
    }
}

/// Profile loading and matching shared by `devices` subcommands.
enum ProfileChoice {
    /// Loads `paths`; with none given, `DeviceProfiles` if that folder exists, else no profiles.
    /// Broken profiles print `FILE: JSON-PATH: message` lines and exit with status 2.
    static func load(_ paths: [String]) throws -> ProfileLibrary {
        var targets = paths
        if targets.isEmpty {
            guard access("DeviceProfiles", F_OK) == 0 else {
                FileHandleOutput.standardError("no DeviceProfiles folder here: matching against no profiles\n")
                return ProfileLibrary()
            }
            targets = ["DeviceProfiles"]
        }
        do {
            return try ProfileLibrary.load(paths: targets)
        } catch {
            FileHandleOutput.standardError("\(error)\n")
            throw ExitCode(2)
        }
    }

    /// The matcher's outcome for `device` against every profile in `library`.
    static func match(_ device: SerialDeviceInfo, _ library: ProfileLibrary) -> ProfileMatcher.Outcome {
        ProfileMatcher.match(device.candidate, profiles: Array(library.profiles.values))
    }
}
