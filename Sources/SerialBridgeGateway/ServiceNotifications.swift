import Logging
import ServiceLifecycle
import SerialBridgeSystemd

/// Tells the service manager when the gateway is ready and how it is doing: `READY=1` once the
/// startup gate opens (devices enumerated, configured sessions started, metrics listening; the
/// spool is open before any service runs), then a `STATUS=` line whenever it changes, checked
/// once per `interval` (so at most one a second). Readiness is logged whether or not a service
/// manager listens.
struct ServiceNotifications: Service {
    let notifier: ServiceNotifier
    let gate: StartupGate
    let line: @Sendable () -> String
    let logger: Logger
    var interval: Duration = .seconds(1)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await gate.wait()
            guard !Task.isCancelled else { return }
            var last = line()
            notifier.ready(status: last)
            logger.info("gateway ready: \(last)")
            // Runs until shutdown whatever happens: a service that returns early ends the group.
            while !Task.isCancelled {
                do { try await Task.sleep(for: notifier.isEnabled ? interval : .seconds(3600)) } catch { return }
                guard notifier.isEnabled else { continue }
                let now = line()
                if now != last {
                    notifier.status(now)
                    last = now
                }
            }
        }
    }
}
