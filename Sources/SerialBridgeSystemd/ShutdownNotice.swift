import ServiceLifecycle

/// Sends `STOPPING=1` when graceful shutdown begins. Put it last in a service group: a group
/// shuts its services down last first, so the notice goes out before the others start stopping.
public struct ShutdownNotice: Service {
    private let notifier: ServiceNotifier
    private let status: @Sendable () -> String?

    /// Creates the notice; `status` is an optional `STATUS=` line sent with it.
    public init(notifier: ServiceNotifier, status: @escaping @Sendable () -> String? = { nil }) {
        self.notifier = notifier
        self.status = status
    }

    /// Waits for graceful shutdown, then notifies (not when merely cancelled).
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return
        }
        notifier.stopping(status: status())
    }
}
