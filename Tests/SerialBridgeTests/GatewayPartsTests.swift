import CSerialSupport
import Foundation
@testable import SerialBridgeGateway
import SerialBridgeProfiles
import SerialBridgeSerial
import SerialBridgeSimulator
import SerialBridgeSpool
import Testing

@Suite("Run epoch")
struct EpochStoreTests {
    @Test func epochGrowsAtEveryStartAndIsOnDisk() throws {
        let dir = try TemporaryDirectory()
        let state = dir.file("state/nested")
        #expect(try EpochStore.advance(in: state) == 1)
        #expect(try EpochStore.advance(in: state) == 2)
        #expect(try String(contentsOfFile: state + "/epoch", encoding: .utf8) == "2\n")
    }

    @Test func corruptEpochFileStopsTheStartWithAClearMessage() throws {
        let dir = try TemporaryDirectory()
        try dir.write("epoch", "garbage")
        #expect(throws: EpochStore.Failure.self) { try EpochStore.advance(in: dir.path) }
    }
}

@Suite("Gateway config")
struct GatewayConfigTests {
    @Test func relativePathsResolveAgainstTheConfigFolder() throws {
        let dir = try TemporaryDirectory()
        try dir.write("gw.json", #"""
        {"gatewayId":"g1","server":{"url":"ws://127.0.0.1:9/gateway/v1","tokenFile":"token"},
         "profileFolders":["profiles"],"ports":[{"device":"s1","path":"dev/s1","profile":"p"}]}
        """#)
        let config = try GatewayConfig.load(file: dir.file("gw.json"))
        #expect(config.tokenFile == dir.file("token"))
        #expect(config.stateDirectory == dir.file("state"))
        #expect(config.ports.first?.path == dir.file("dev/s1"))
    }

    @Test func mistakesAreReportedWithFileAndPath() throws {
        let dir = try TemporaryDirectory()
        try dir.write("gw.json", #"{"gatewayId":"g1","server":{"url":"http://x","tokenFile":"t"},"ports":[{"device":"a"}],"colour":1}"#)
        do {
            _ = try GatewayConfig.load(file: dir.file("gw.json"))
            Issue.record("accepted a broken config")
        } catch {
            let file = dir.file("gw.json")
            #expect(error.errors.map(\.description) == [
                #"\#(file): $.server.url: must be a ws:// or wss:// URL with a host, not "http://x""#,
                "\(file): $.ports[0].path: is required",
                "\(file): $.ports[0].profile: is required",
                "\(file): $.colour: unknown key",
            ])
        }
    }
}

@Suite("Gateway config: spool")
struct GatewaySpoolConfigTests {
    @Test func defaultsAreTheDocumentedOnes() throws {
        let dir = try TemporaryDirectory()
        try dir.write("gw.json", #"{"gatewayId":"g1","server":{"url":"ws://127.0.0.1:9/gateway/v1","tokenFile":"t"}}"#)
        let spool = try GatewayConfig.load(file: dir.file("gw.json")).spool
        #expect(spool.maxBytes == 1 << 30)
        #expect(spool.maxAgeSeconds == nil)
        #expect(spool.whenFull == .dropOldest)
        #expect(spool.commitInterval == .milliseconds(100))
        #expect(spool.commitFrames == 10_000)
        #expect(spool.backlogRateLimit == nil)
        #expect(spool.effectiveSegmentBytes == 16 << 20)
    }

    @Test func everyKeyIsRead() throws {
        let dir = try TemporaryDirectory()
        try dir.write("gw.json", #"""
        {"gatewayId":"g1","server":{"url":"ws://127.0.0.1:9/gateway/v1","tokenFile":"t"},
         "spool":{"maxBytes":67108864,"maxAgeSeconds":86400,"whenFull":"rejectNewest","commitIntervalMs":250,
                  "commitFrames":500,"backlogRateLimit":2000}}
        """#)
        let spool = try GatewayConfig.load(file: dir.file("gw.json")).spool
        #expect(spool == SpoolConfiguration(
            maxBytes: 64 << 20, maxAgeSeconds: 86_400, whenFull: .rejectNewest, commitInterval: .milliseconds(250),
            commitFrames: 500, backlogRateLimit: 2_000
        ))
        #expect(spool.effectiveSegmentBytes == 4 << 20)
    }

    @Test func mistakesNameTheirPath() throws {
        let dir = try TemporaryDirectory()
        try dir.write("gw.json", #"""
        {"gatewayId":"g1","server":{"url":"ws://127.0.0.1:9/gateway/v1","tokenFile":"t"},
         "spool":{"maxBytes":1000,"whenFull":"dropNewest","commitIntervalMs":0,"backlogRateLimit":"fast","size":1}}
        """#)
        do {
            _ = try GatewayConfig.load(file: dir.file("gw.json"))
            Issue.record("accepted a broken spool object")
        } catch {
            let file = dir.file("gw.json")
            #expect(error.errors.map(\.description) == [
                "\(file): $.spool.maxBytes: must be an integer from 1048576 to 1125899906842624",
                #"\#(file): $.spool.whenFull: must be one of "dropOldest", "rejectNewest", not "dropNewest""#,
                "\(file): $.spool.commitIntervalMs: must be an integer from 1 to 60000",
                "\(file): $.spool.backlogRateLimit: must be an integer from 1 to 10000000, not a string",
                "\(file): $.spool.size: unknown key",
            ])
        }
    }
}

@Suite("Serial ports on pseudo-terminals", .serialized)
struct SerialPortTests {
    @Test func portReadsWhatTheDeviceWrote() throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        try terminal.write(Array("hello\n".utf8))
        let port = try SerialPort.open(path: terminal.slavePath, settings: SerialSettings(baudRate: 115_200))
        defer { port.close() }
        var buffer = [UInt8](repeating: 0, count: 64)
        var pollDescriptor = pollfd(fd: port.fileDescriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pollDescriptor, 1, 10_000) == 1)
        let count = buffer.withUnsafeMutableBytes { read(port.fileDescriptor, $0.baseAddress, $0.count) }
        #expect(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self) == "hello\n")
    }

    @Test func whatThePortWritesReachesTheDevice() throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let port = try SerialPort.open(path: terminal.slavePath, settings: SerialSettings(baudRate: 9600))
        defer { port.close() }
        let request: [UInt8] = [0xFF, 0x01, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00, 0x79]
        #expect(request.withUnsafeBytes { write(port.fileDescriptor, $0.baseAddress, $0.count) } == request.count)
        var received = [UInt8](repeating: 0, count: 64)
        var pollDescriptor = pollfd(fd: terminal.masterDescriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pollDescriptor, 1, 10_000) == 1)
        let count = received.withUnsafeMutableBytes { read(terminal.masterDescriptor, $0.baseAddress, $0.count) }
        #expect(Array(received.prefix(max(0, count))) == request)
    }

    @Test func aPortHeldByAnotherOpenIsRefusedAsBusy() throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let first = try SerialPort.open(path: terminal.slavePath, settings: SerialSettings())
        defer { first.close() }
        do {
            _ = try SerialPort.open(path: terminal.slavePath, settings: SerialSettings())
            Issue.record("second open succeeded")
        } catch {
            #expect(error.isBusy)
            #expect(error.description.contains("another process holds the port"))
        }
    }

    @Test func nonStandardBaudRateIsSetThroughTermios2() throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let port = try SerialPort.open(path: terminal.slavePath, settings: SerialSettings(baudRate: 250_000))
        defer { port.close() }
        #expect(sb_get_baud(port.fileDescriptor) == 250_000)
    }

    @Test func missingDeviceGivesAClearError() {
        #expect(throws: SerialPortError(.open, path: "/dev/does-not-exist", errno: ENOENT)) {
            try SerialPort.open(path: "/dev/does-not-exist", settings: SerialSettings())
        }
    }

    @Test func simulatorPlaysTheCsvProfile() throws {
        let profile = try ProfileLoader.load(file: Repository.profiles + "/generic-csv-lines.json")
        var simulator = try DeviceSimulator(profile: profile, seed: 1)
        for _ in 0..<100 {
            let line = String(decoding: simulator.nextOutput(), as: UTF8.self)
            #expect(line.hasSuffix("\r\n"))
            let fields = line.dropLast(2).split(separator: ",").compactMap { Double($0) }
            #expect(fields.count == 2)
            #expect((15...30).contains(fields[0]) && (20...80).contains(fields[1]))
        }
        #expect(DeviceSimulator.format(-0.05, decimals: 1) == "-0.1")
        #expect(DeviceSimulator.format(3, decimals: 2) == "3.00")
    }
}
