import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The running part of one ``DeviceWatcher`` iteration: the libudev context and monitor, a read
/// source on the monitor's socket, and the ``DeviceTable``.
///
/// `@unchecked Sendable` is sound because every stored `var` (and with them every libudev handle)
/// is read and written only on `queue`, a serial queue: `start()` and `stop()` only enqueue work
/// there, the read source's event and cancel handlers target it, and the handles are created in
/// `open()` and released in the cancel handler, both on it. `continuation` is `Sendable`.
final class WatcherCore: @unchecked Sendable {
    typealias Continuation = AsyncStream<Result<DeviceEvent, UdevError>>.Continuation

    private let queue = DispatchQueue(label: "serialbridge.devices.watcher")
    private let source: MonitorSource
    private let continuation: Continuation
    // Confined to `queue`.
    private var udev: Udev?
    private var monitor: UdevMonitor?
    private var readSource: (any DispatchSourceRead)?
    private var table = DeviceTable()
    private var stopped = false
    private let onClose: (@Sendable () -> Void)?
    private let onEnumerated: (@Sendable (Int) -> Void)?

    init(source: MonitorSource, continuation: Continuation, onClose: (@Sendable () -> Void)?, onEnumerated: (@Sendable (Int) -> Void)? = nil) {
        self.source = source
        self.continuation = continuation
        self.onClose = onClose
        self.onEnumerated = onEnumerated
    }

    /// Opens the monitor, reports the present devices, then follows the monitor.
    func start() { queue.async { self.open() } }

    /// Stops following and releases the monitor; idempotent.
    func stop() {
        queue.async {
            guard !self.stopped else { return }
            self.stopped = true
            if let readSource = self.readSource {
                // The cancel handler releases the monitor once the source no longer uses its fd.
                readSource.cancel()
            } else {
                self.release()
            }
            self.continuation.finish()
        }
    }

    private func open() {
        guard !stopped else { return }
        do throws(UdevError) {
            let udev = try Udev()
            // The monitor starts before the enumeration so that no device slips between the two;
            // the table drops the duplicate `add` that this can produce.
            let monitor = try UdevMonitor(udev: udev, source: source)
            self.udev = udev
            self.monitor = monitor
            var present = 0
            for device in try udev.serialDevices() {
                if let event = table.enumerated(device) {
                    continuation.yield(.success(event))
                    present += 1
                }
            }
            // Before the monitor is read: the first `present` events are exactly the enumeration.
            onEnumerated?(present)
            let readSource = DispatchSource.makeReadSource(fileDescriptor: monitor.fileDescriptor, queue: queue)
            readSource.setEventHandler { self.drain() }
            readSource.setCancelHandler { self.release() }
            self.readSource = readSource
            readSource.resume()
        } catch {
            release()
            continuation.yield(.failure(error))
            continuation.finish()
        }
    }

    private func drain() {
        guard !stopped, let monitor else { return }
        while let event = monitor.receive() {
            if let reported = table.apply(action: event.action, device: event.device) {
                continuation.yield(.success(reported))
            }
        }
    }

    private func release() {
        readSource = nil
        let hadMonitor = monitor != nil
        monitor = nil
        udev = nil
        if hadMonitor { onClose?() }
    }
}
