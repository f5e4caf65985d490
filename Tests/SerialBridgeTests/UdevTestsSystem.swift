import Foundation
import SerialBridgeDevices
import Synchronization
import Testing

/// Tests against this machine's real sysfs and kernel uevents (TESTING.md, "udev"): ttyS0 is the
/// one 8250 port, no udevd runs, and root can raise a real `change` uevent on it.
@Suite("udev: enumeration and real kernel uevents", .serialized)
struct UdevSystemTests {
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    static var hasTTYS0: Bool { FileManager.default.fileExists(atPath: "/sys/class/tty/ttyS0") }

    /// Whether the test may run; outside CI a missing prerequisite skips it with a message, under
    /// CI it fails the test.
    static func prerequisites(needRoot: Bool) -> Bool {
        var missing: [String] = []
        if !hasTTYS0 { missing.append("/sys/class/tty/ttyS0 is absent") }
        if needRoot, getuid() != 0 { missing.append("not running as root") }
        guard !missing.isEmpty else { return true }
        if inCI {
            Issue.record("required under CI=true: \(missing.joined(separator: ", "))")
        } else {
            print("skipped: \(missing.joined(separator: ", "))")
        }
        return false
    }

    @Test func enumerationFindsTTYS0AndSkipsVirtualConsoles() throws {
        guard Self.prerequisites(needRoot: false) else { return }
        let devices = try Udev().serialDevices()
        let ttyS0 = try #require(devices.first { $0.sysname == "ttyS0" }, "devices: \(devices.map(\.devnode))")
        #expect(ttyS0.devnode == "/dev/ttyS0")
        #expect(ttyS0.subsystem == "tty")
        #expect(ttyS0.devpath.hasSuffix("/tty/ttyS0"))
        #expect(ttyS0.stableID.hasPrefix("path-"))
        #expect(!ttyS0.stableID.contains("ttyS0"))
        #expect(ttyS0.candidate.paths.first == "/dev/ttyS0")
        #expect(ttyS0.driver != nil, "the 8250 driver behind ttyS0 is derived from its parents")
        #expect(ttyS0.rawProperties["DEVNAME"] != nil)
        let names = Set(devices.map(\.sysname))
        for virtual in ["tty", "tty0", "tty1", "tty63", "console", "ptmx"] {
            #expect(!names.contains(virtual), "\(virtual) is a virtual console")
        }
        #expect(devices.allSatisfy { !$0.devpath.hasPrefix("/devices/virtual/") })
    }

    @Test func aRealKernelUeventReachesTheWatcherWithItsProperties() async throws {
        guard Self.prerequisites(needRoot: true) else { return }
        let uuid = UUID().uuidString.lowercased()
        let closed = Mutex(false)
        let watcher = DeviceWatcher(onClose: { closed.withLock { $0 = true } })
        print("device events from the \(watcher.source) source")

        let found = try await withThrowingTaskGroup(of: SerialDeviceInfo?.self) { group in
            group.addTask {
                var raised = false
                for try await event in watcher {
                    // The enumeration's `.added` for ttyS0 proves the monitor is already listening.
                    if case .added(let device) = event, device.sysname == "ttyS0", !raised {
                        try Self.raiseChange(uuid: uuid)
                        raised = true
                    }
                    // Other runs may raise their own uevents: only ours counts.
                    if case .changed(let device) = event, device.sysname == "ttyS0",
                       device.rawProperties["SYNTH_UUID"] == uuid
                    {
                        return device
                    }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let device = try #require(found, "no change uevent with SYNTH_UUID \(uuid) within 60 s")
        #expect(device.properties["SYNTH_ARG_SBTEST"] == "1")
        #expect(device.rawProperties["ACTION"] == "change")
        #expect(device.devnode == "/dev/ttyS0")
        // Ending the iteration released the monitor socket.
        try await eventually("the monitor is closed") { closed.withLock { $0 } }
    }

    @Test func endingTheIterationClosesTheMonitor() async throws {
        guard Self.prerequisites(needRoot: false) else { return }
        let closed = Mutex(false)
        let watcher = DeviceWatcher(onClose: { closed.withLock { $0 = true } })
        for try await event in watcher {
            if event.device.sysname == "ttyS0" { break }
        }
        try await eventually("the monitor is closed") { closed.withLock { $0 } }
    }

    /// Writes `change <uuid> SBTEST=1` to ttyS0's uevent file: the kernel broadcasts a real
    /// uevent with `SYNTH_UUID` and `SYNTH_ARG_SBTEST`.
    static func raiseChange(uuid: String) throws {
        let line = "change \(uuid) SBTEST=1"
        try line.write(toFile: "/sys/class/tty/ttyS0/uevent", atomically: false, encoding: .utf8)
    }
}
