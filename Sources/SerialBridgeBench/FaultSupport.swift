import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every `every` until it holds; a timeout is a failure naming `what`. Errors
/// thrown by the condition count as "not yet" (a database or endpoint not up yet), except
/// ``FaultAbort``.
func waitFor(
    _ what: String, timeout: Duration, every: Duration = .milliseconds(50), _ condition: () throws -> Bool
) async throws(FaultFailure) {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            if try condition() { return }
        } catch let abort as FaultAbort {
            throw FaultFailure("\(abort.reason) (while waiting for \(what))")
        } catch {}
        guard ContinuousClock.now < deadline else { throw FaultFailure("timed out after \(timeout) waiting for \(what)") }
        try? await Task.sleep(for: every)
    }
}

/// Seconds of a duration, as a Double.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// A loopback port free right now (for a server that must come back on the same port).
func freePort() throws(FaultFailure) -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw FaultFailure("no free loopback port: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A figure for a report: `value` rounded to `decimals` (0–3) places.
func figure(_ value: Double, decimals: Int = 1) -> String {
    let scale = Double([1, 10, 100, 1_000][min(3, max(0, decimals))])
    let rounded = (value * scale).rounded() / scale
    return decimals == 0 ? String(Int(rounded)) : String(rounded)
}
