import Logging

/// The swift-log handler of both command-line programs: formats each event with
/// ``LogLineFormatter`` in one of the ``LogFormat``s and hands the line to a ``LogSink``.
///
/// Per line it costs one clock read (plus `localtime_r` in the text format), one byte buffer and
/// one `write(2)`; metadata set on the logger is merged with the event's and the provider's.
public struct LineLogHandler: LogHandler {
    /// The logger's label (`serialbridge`, `serialbridge-server`, a library's own).
    public let label: String
    /// The line format.
    public let format: LogFormat
    private let sink: any LogSink
    private let clock: @Sendable (_ local: Bool) -> LogTimestamp

    /// Events below this level are dropped (swift-log checks it before building the message).
    public var logLevel: Logger.Level
    /// Metadata on every line of this logger (a session sets `device` here).
    public var metadata: Logger.Metadata = [:]
    /// Metadata computed per line (task-local context), merged over ``metadata``.
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a handler.
    /// - Parameters:
    ///   - clock: the time of a line; tests pass a fixed one. `local` says whether the local UTC
    ///     offset is needed (text format).
    public init(
        label: String, format: LogFormat, level: Logger.Level = .info, sink: any LogSink = DescriptorLogSink(),
        metadataProvider: Logger.MetadataProvider? = nil,
        clock: @escaping @Sendable (_ local: Bool) -> LogTimestamp = { LogTimestamp.now(local: $0) }
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
        self.clock = clock
    }

    /// One entry of ``metadata``.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes the event as one line: the logger's metadata, then the provider's, then the event's
    /// own (later ones win on equal keys), plus `error` for an attached error.
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, new in new }
        }
        if let error = event.error { merged["error"] = .string("\(error)") }
        let time = format == .journald ? LogTimestamp(seconds: 0) : clock(format == .text)
        sink.write(LogLineFormatter.line(format, timestamp: time, level: event.level, label: label, message: event.message.description, metadata: merged))
    }
}
