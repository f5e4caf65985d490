import Foundation
import SerialBridgeGateway
import Testing

/// `make install` and `make deb` on the debug binaries (CI never makes a release build): the files
/// land where the units expect them, `systemd-analyze verify` accepts the installed units, and the
/// Debian package holds the same tree under /usr.
@Suite("make install and make deb", .serialized)
struct InstallTests {
    static let binaries = ["serialbridge", "serialbridge-server"]
    static let units = [
        "serialbridge.service", "serialbridge-server.service",
        "serialbridge-server-credentials.path", "serialbridge-server-credentials.service",
    ]

    /// The debug binaries exist (the test build makes them), or an issue is recorded.
    static func debugBinariesBuilt() -> Bool {
        for binary in binaries {
            let path = Repository.root.appendingPathComponent(".build/debug/\(binary)").path
            if !FileManager.default.isExecutableFile(atPath: path) {
                Issue.record("build the products first (swift build): \(path)")
                return false
            }
        }
        return true
    }

    static func make(_ make: String, _ arguments: [String]) async throws -> HostTool.Run {
        let run = try await HostTool.run([make, "-C", Repository.root.path] + arguments)
        #expect(run.status == 0, "make \(arguments.joined(separator: " ")):\n\(run.text)")
        return run
    }

    static func isFile(_ path: String, mode: Int) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              attributes[.type] as? FileAttributeType == .typeRegular,
              let permissions = attributes[.posixPermissions] as? Int
        else { return false }
        return permissions == mode
    }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    @Test func installPutsEverythingWhereTheUnitsExpectIt() async throws {
        guard let tools = HostTool.required(["make", "systemd-analyze"], for: "make install"), Self.debugBinariesBuilt() else { return }
        let dest = try TemporaryDirectory()
        let root = dest.path
        _ = try await Self.make(tools["make"]!, ["install", "DESTDIR=\(root)", "BIN_DIR=.build/debug"])

        for binary in Self.binaries {
            #expect(Self.isFile("\(root)/usr/local/bin/\(binary)", mode: 0o755), "\(binary)")
        }
        let unitDirectory = "\(root)/usr/local/lib/systemd/system"
        for unit in Self.units {
            #expect(Self.isFile("\(unitDirectory)/\(unit)", mode: 0o644), "\(unit)")
        }
        #expect(Self.isFile("\(root)/usr/local/lib/udev/rules.d/99-serialbridge.rules", mode: 0o644))
        let shipped = try FileManager.default.contentsOfDirectory(atPath: Repository.profiles).filter { $0.hasSuffix(".json") }
        #expect(!shipped.isEmpty)
        for profile in shipped {
            #expect(Self.isFile("\(root)/usr/local/share/serialbridge/profiles/\(profile)", mode: 0o644), "\(profile)")
        }
        for doc in ["INSTALL.md", "CONFIG.md", "README.md"] {
            #expect(Self.isFile("\(root)/usr/local/share/doc/serialbridge/\(doc)", mode: 0o644), "\(doc)")
        }
        #expect(Self.isFile("\(root)/etc/serialbridge/gateway.json", mode: 0o644))
        #expect(Self.isDirectory("\(root)/etc/serialbridge/profiles.d"))
        #expect(Self.isDirectory("\(root)/etc/serialbridge-server"))

        // What the units name is there: binaries, config, documentation, credential folders.
        for unit in Self.units {
            let file = try SystemdUnitFile(path: "\(unitDirectory)/\(unit)")
            if let binary = file.execStart.first, binary.hasPrefix("/usr/local/") {
                #expect(FileManager.default.isExecutableFile(atPath: root + binary), "\(unit): \(binary)")
            }
            for link in file.values("Documentation", in: "Unit") where link.hasPrefix("file://") {
                #expect(FileManager.default.fileExists(atPath: root + link.dropFirst("file://".count)), "\(unit): \(link)")
            }
            for credential in file.values("LoadCredential") {
                let source = String(credential.split(separator: ":", maxSplits: 1).last ?? "")
                #expect(Self.isDirectory(root + (source as NSString).deletingLastPathComponent), "\(unit): \(credential)")
            }
        }
        let gatewayUnit = try SystemdUnitFile(path: "\(unitDirectory)/serialbridge.service")
        let configPath = gatewayUnit.execStartOption("--config")?.replacingOccurrences(of: "%E", with: "/etc")
        #expect(configPath == "/etc/serialbridge/gateway.json")

        // The example config is valid and leaves the profile folders to the defaults, which are the
        // installed ones when the binary runs from PREFIX/bin.
        let defaults = ConfigDefaults.installed(executable: root + "/usr/local/bin/serialbridge")
        #expect(defaults.profileFolders.first == root + "/usr/local/share/serialbridge/profiles")
        let config = try GatewayConfig.load(file: "\(root)/etc/serialbridge/gateway.json", defaults: defaults)
        #expect(config.profileFolders == [root + "/usr/local/share/serialbridge/profiles"])
        #expect(config.stateDirectory == "/var/lib/serialbridge", "the unit's StateDirectory=")

        // An installed config is never overwritten.
        try "{\"edited\": true}\n".write(toFile: "\(root)/etc/serialbridge/gateway.json", atomically: true, encoding: .utf8)
        _ = try await Self.make(tools["make"]!, ["install-config", "DESTDIR=\(root)"])
        #expect(try String(contentsOfFile: "\(root)/etc/serialbridge/gateway.json", encoding: .utf8) == "{\"edited\": true}\n")

        // Uninstall takes the files away and leaves /etc.
        _ = try await Self.make(tools["make"]!, ["uninstall", "DESTDIR=\(root)"])
        #expect(!FileManager.default.fileExists(atPath: "\(root)/usr/local/bin/serialbridge"))
        #expect(!FileManager.default.fileExists(atPath: "\(unitDirectory)/serialbridge.service"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/usr/local/share/serialbridge"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/etc/serialbridge/gateway.json"))
    }

    /// `systemd-analyze verify` checks that ExecStart's binary exists, at its absolute path. The
    /// installed units name /usr/local/bin (their path once installed without DESTDIR), so the check
    /// runs on copies whose binaries point into the DESTDIR tree; nothing else is changed.
    /// (`verify --root=DESTDIR` finds the binaries but then also looks for /bin/kill and the
    /// system's targets inside DESTDIR.)
    @Test func systemdAnalyzeVerifyAcceptsTheInstalledUnits() async throws {
        guard let tools = HostTool.required(["make", "systemd-analyze"], for: "systemd-analyze verify"), Self.debugBinariesBuilt() else { return }
        let dest = try TemporaryDirectory()
        let root = dest.path
        _ = try await Self.make(tools["make"]!, ["install-files", "DESTDIR=\(root)", "BIN_DIR=.build/debug"])
        let copies = root + "/verify"
        try FileManager.default.createDirectory(atPath: copies, withIntermediateDirectories: true)
        for unit in Self.units {
            let text = try String(contentsOfFile: "\(root)/usr/local/lib/systemd/system/\(unit)", encoding: .utf8)
            try text.replacingOccurrences(of: "/usr/local/bin/", with: "\(root)/usr/local/bin/")
                .write(toFile: "\(copies)/\(unit)", atomically: true, encoding: .utf8)
        }
        let run = try await HostTool.run([tools["systemd-analyze"]!, "verify", "--man=no"] + Self.units, in: copies)
        #expect(run.status == 0, "\(run.text)")
        // Warnings do not change the status: none may name our units or files.
        let complaints = run.text.split(separator: "\n").filter { $0.contains("serialbridge") }
        #expect(complaints.isEmpty, "\(complaints.joined(separator: "\n"))")
    }

    @Test func debianPackageHoldsTheInstallUnderUsr() async throws {
        guard let tools = HostTool.required(["make", "dpkg-deb", "dpkg"], for: "make deb"), Self.debugBinariesBuilt() else { return }
        let build = try TemporaryDirectory()
        // No compression: the debug binaries are large and this checks the layout, not the size.
        _ = try await Self.make(tools["make"]!, ["deb", "BIN_DIR=.build/debug", "DEB_BUILD=\(build.path)", "DEB_COMPRESSION=none"])
        let architecture = try await HostTool.run([tools["dpkg"]!, "--print-architecture"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let packages = try FileManager.default.contentsOfDirectory(atPath: build.path).filter { $0.hasSuffix(".deb") }
        #expect(packages.count == 1 && packages.first?.hasSuffix("_\(architecture).deb") == true, "\(packages)")
        guard let package = packages.first.map({ build.file($0) }) else { return }

        let info = try await HostTool.run([tools["dpkg-deb"]!, "--info", package])
        #expect(info.status == 0, "\(info.text)")
        for field in ["Package: serialbridge", "Architecture: \(architecture)", "Depends: ", "Description: "] {
            #expect(info.stdout.contains(field), "control lacks \(field):\n\(info.stdout)")
        }
        let conffiles = try await HostTool.run([tools["dpkg-deb"]!, "--info", package, "conffiles"])
        #expect(conffiles.stdout.split(separator: "\n") == ["/etc/serialbridge/gateway.json"])

        let contents = try await HostTool.run([tools["dpkg-deb"]!, "--contents", package])
        #expect(contents.status == 0, "\(contents.text)")
        let paths = Set(contents.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        var expected = Self.binaries.map { "./usr/bin/\($0)" }
        expected += Self.units.map { "./usr/lib/systemd/system/\($0)" }
        expected += ["./usr/lib/udev/rules.d/99-serialbridge.rules", "./etc/serialbridge/gateway.json",
                     "./etc/serialbridge/profiles.d/", "./usr/share/serialbridge/profiles/generic-csv-lines.json",
                     "./usr/share/doc/serialbridge/INSTALL.md"]
        for path in expected {
            #expect(paths.contains(path), "the package lacks \(path)")
        }
        #expect(!paths.contains { $0.contains("/usr/local") }, "a Debian package never installs to /usr/local")
        #expect(contents.stdout.contains("root/root"), "files belong to root")

        // The units and example config name /usr paths.
        let stage = try FileManager.default.contentsOfDirectory(atPath: build.path).first { Self.isDirectory(build.file($0)) }
        let staged = build.path + "/" + (stage ?? "")
        let unit = try SystemdUnitFile(path: "\(staged)/usr/lib/systemd/system/serialbridge.service")
        #expect(unit.execStart.first == "/usr/bin/serialbridge")
        let server = try SystemdUnitFile(path: "\(staged)/usr/lib/systemd/system/serialbridge-server.service")
        #expect(server.execStart.first == "/usr/bin/serialbridge-server")
        let example = try String(contentsOfFile: "\(staged)/etc/serialbridge/gateway.json", encoding: .utf8)
        #expect(!example.contains("/usr/local"))

        // Maintainer scripts: executable, valid sh, systemd touched only when it runs.
        for script in ["postinst", "prerm", "postrm"] {
            let path = "\(staged)/DEBIAN/\(script)"
            #expect(Self.isFile(path, mode: 0o755), "\(script)")
            let syntax = try await HostTool.run(["/bin/sh", "-n", path])
            #expect(syntax.status == 0, "\(script): \(syntax.text)")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(!text.contains("systemctl") || text.contains("[ -d /run/systemd/system ]"), "\(script)")
        }
    }
}
