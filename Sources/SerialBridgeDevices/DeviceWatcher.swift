/// Serial devices as an `AsyncSequence` of ``DeviceEvent``s: first every present device as
/// `.added`, then `.added`, `.removed` and `.changed` as the monitor reports them. Never ends on
/// its own; it ends when the iterating task is cancelled or the iterator is dropped.
///
/// Each iteration opens its own libudev monitor (filtered to the `tty` subsystem) and watches its
/// one socket with a dispatch read source on a private serial queue: no thread per device, no
/// thread of its own. Ending the iteration cancels the source and closes the socket. Events are
/// buffered without bound between the queue and the consumer (they are rare and small).
///
/// ```swift
/// let watcher = DeviceWatcher()
/// logger.info("device events from the \(watcher.source) source")
/// for try await event in watcher { … }
/// ```
public struct DeviceWatcher: AsyncSequence, Sendable {
    /// The events.
    public typealias Element = DeviceEvent
    /// Opening the monitor or enumerating devices failed.
    public typealias Failure = UdevError

    /// Where events come from: ``MonitorSource/detect(controlSocket:)`` unless given.
    public let source: MonitorSource
    private let onClose: (@Sendable () -> Void)?
    private let onEnumerated: (@Sendable (Int) -> Void)?

    /// A watcher on `source` (by default, `.udev` when systemd-udevd runs, else `.kernel`).
    /// `onClose`, if given, is called once per iteration after its monitor socket has been closed
    /// (for tests and shutdown accounting); it runs on the watcher's queue and must not block.
    /// `onEnumerated`, if given, is called once per iteration when the present devices have been
    /// put in the sequence, with their number: the first that many events are the enumeration
    /// (for readiness: a consumer that has handled them has seen every present device). It runs
    /// on the watcher's queue and must not block.
    public init(
        source: MonitorSource = .detect(), onClose: (@Sendable () -> Void)? = nil,
        onEnumerated: (@Sendable (Int) -> Void)? = nil
    ) {
        self.source = source
        self.onClose = onClose
        self.onEnumerated = onEnumerated
    }

    /// Starts watching: opens the monitor and enumerates the present devices in the background.
    public func makeAsyncIterator() -> Iterator {
        let (stream, continuation) = AsyncStream.makeStream(of: Result<DeviceEvent, UdevError>.self)
        let core = WatcherCore(source: source, continuation: continuation, onClose: onClose, onEnumerated: onEnumerated)
        continuation.onTermination = { _ in core.stop() }
        core.start()
        return Iterator(base: stream.makeAsyncIterator())
    }

    /// Delivers the events of one iteration.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<Result<DeviceEvent, UdevError>>.Iterator

        /// The next event; nil once the iteration has ended.
        /// - Throws: ``UdevError`` when the monitor could not be opened or the enumeration failed;
        ///   the sequence ends after it.
        public mutating func next() async throws(UdevError) -> DeviceEvent? {
            guard let result = await base.next() else { return nil }
            return try result.get()
        }
    }
}
