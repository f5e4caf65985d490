import ArgumentParser
import SerialBridgeGateway
import SerialBridgeProfiles
import SerialBridgeSerial

#if canImport(Glibc)
import Glibc
#endif

/// `serialbridge devices capture PORT --out FILE [--seconds N]`.
struct Capture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a port's bytes with arrival times, for `profiles test` (stops on Ctrl-C, --seconds or --bytes)."
    )

    @Argument(help: "Port, e.g. /dev/ttyUSB0.")
    var port: String

    @Option(name: .long, help: "Capture file to write.")
    var out: String

    @Option(name: .long, help: "Stop after this many seconds.")
    var seconds: Double?

    @Option(name: .long, help: "Stop after this many bytes.")
    var bytes: Int?

    @Option(name: .long, help: "Open the port with this profile's serial settings.")
    var profile: String?

    @Option(name: .long, help: "Baud rate, when no profile is given.")
    var baud = 9600

    func run() async throws {
        var settings = SerialSettings(baudRate: baud)
        if let profile {
            do {
                settings = try ProfileLoader.load(file: profile).serial
            } catch {
                for line in error.errors { print(line) }
                throw ExitCode(2)
            }
        }
        let serial: SerialPort
        do {
            serial = try SerialPort.open(path: port, settings: settings)
        } catch {
            FileHandleOutput.standardError("error: \(error)\n")
            throw ExitCode(1)
        }
        defer { serial.close() }
        let file = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard file >= 0 else {
            FileHandleOutput.standardError("error: cannot write \(out): \(String(cString: strerror(errno)))\n")
            throw ExitCode(1)
        }
        defer { close(file) }
        CaptureInterrupt.install()
        FileHandleOutput.standardError("capturing \(port) at \(settings) into \(out); Ctrl-C stops\n")
        let limits = PortCapture.Limits(duration: seconds.map { .milliseconds(Int64($0 * 1000)) }, maxBytes: bytes)
        let captured = try PortCapture.run(port: serial, limits: limits, shouldStop: CaptureInterrupt.requested) { chunk in
            var copy = chunk
            FileHandleOutput.write(file, &copy)
        }
        FileHandleOutput.standardError("captured \(captured) bytes\n")
    }
}

/// Ctrl-C ends a capture cleanly (the file stays valid) instead of killing the process mid-write.
enum CaptureInterrupt {
    // Written only by the signal handler and read by the capture loop: a sig_atomic_t flag is the
    // one kind of state POSIX allows a handler to set, and a stale read only delays the stop by
    // one 100 ms poll.
    nonisolated(unsafe) static var flag: sig_atomic_t = 0

    static func install() {
        signal(SIGINT) { _ in CaptureInterrupt.flag = 1 }
        signal(SIGTERM) { _ in CaptureInterrupt.flag = 1 }
    }

    static func requested() -> Bool { flag != 0 }
}
