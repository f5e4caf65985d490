import Synchronization

/// Counts down the parts the gateway must have started before it tells the service manager it is
/// ready: the configured ports' sessions, the udev enumeration's sessions, the metrics endpoint.
/// Each part reports once (a part that failed reports too: readiness means "started", and the
/// failure is logged); waiters resume when the last one has.
final class StartupGate: Sendable {
    private struct State {
        var pending: Set<String>
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state: Mutex<State>

    /// A gate waiting for `parts`.
    init(parts: Set<String>) {
        state = Mutex(State(pending: parts))
    }

    /// `part` has started (or given up); repeats and unknown parts are ignored.
    func done(_ part: String) {
        let resumed = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.pending.remove(part) != nil, state.pending.isEmpty else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in resumed { waiter.resume() }
    }

    /// Whether every part has started.
    var isOpen: Bool { state.withLock { $0.pending.isEmpty } }

    /// The parts still starting.
    var pending: Set<String> { state.withLock { $0.pending } }

    /// Returns once every part has started, or when the task is cancelled.
    func wait() async {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let open = state.withLock { state -> Bool in
                    if state.pending.isEmpty || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if open { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
