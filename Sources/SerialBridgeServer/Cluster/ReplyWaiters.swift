import Synchronization

/// Requests sent to another instance that wait for its answer, by request id. An answer that comes
/// after its request gave up is dropped.
final class ReplyWaiters: Sendable {
    private let waiting = Mutex<[String: CheckedContinuation<BusMessage?, Never>]>([:])

    /// Registers `id`, runs `send` (false: the request could not be sent), and returns the answer,
    /// or nil when `send` failed, `timeout` passed or ``cancelAll()`` ran first.
    func request(_ id: String, timeout: Duration, send: @escaping @Sendable () async -> Bool) async -> BusMessage? {
        await withTaskGroup(of: BusMessage?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    self.waiting.withLock { $0[id] = continuation }
                    // Sent only once registered, so that no answer can overtake its waiter.
                    Task {
                        if !(await send()) { self.deliver(id, nil) }
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            var answer = await group.next() ?? nil
            waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: nil)
            group.cancelAll()
            while let next = await group.next() { answer = answer ?? next }
            return answer
        }
    }

    /// Hands `message` to the request `id`, if it still waits.
    func deliver(_ id: String, _ message: BusMessage?) {
        waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: message)
    }

    /// Ends every waiting request without an answer (the bus stops).
    func cancelAll() {
        let all = waiting.withLock { waiting in
            defer { waiting.removeAll() }
            return Array(waiting.values)
        }
        for continuation in all { continuation.resume(returning: nil) }
    }
}
