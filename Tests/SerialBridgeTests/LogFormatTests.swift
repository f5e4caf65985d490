import Foundation
import Logging
import SerialBridgeLogging
import Synchronization
import Testing

/// Collects the lines a ``LineLogHandler`` writes.
final class LineCapture: LogSink {
    private let lines = Mutex<[String]>([])
    var text: [String] { lines.withLock { $0 } }
    func write(_ line: [UInt8]) { lines.withLock { $0.append(String(decoding: line, as: UTF8.self)) } }
}

@Suite("Log line formats")
struct LogFormatTests {
    /// 2025-06-01T10:34:56.789Z, shown at UTC+2.
    let time = LogTimestamp(seconds: 1_748_774_096, nanoseconds: 789_000_000, utcOffset: 7200)

    func line(_ format: LogFormat, _ message: String, _ metadata: Logger.Metadata = [:], level: Logger.Level = .info, label: String = "serialbridge") -> String {
        String(decoding: LogLineFormatter.line(format, timestamp: time, level: level, label: label, message: message, metadata: metadata), as: UTF8.self)
    }

    @Test func textHasLocalTimeLevelLabelMessageAndSortedMetadata() {
        #expect(line(.text, "opened /dev/ttyUSB0", ["port": "/dev/ttyUSB0", "device": "kitchen"])
            == "2025-06-01T12:34:56.789+02:00 info serialbridge: opened /dev/ttyUSB0 device=kitchen port=/dev/ttyUSB0\n")
        #expect(line(.text, "plain", level: .warning) == "2025-06-01T12:34:56.789+02:00 warning serialbridge: plain\n")
        #expect(line(.text, "no label", label: "") == "2025-06-01T12:34:56.789+02:00 info no label\n")
    }

    @Test func textQuotesMetadataValuesThatWouldSplit() {
        #expect(line(.text, "m", ["a": "two words", "b": "", "c": "x=y", "d": "say \"hi\"", "e": "line\nbreak"])
            == #"2025-06-01T12:34:56.789+02:00 info serialbridge: m a="two words" b="" c="x=y" d="say \"hi\"" e="line\nbreak""# + "\n")
        #expect(line(.text, "m", ["n": .stringConvertible(42), "list": ["a", "b"], "map": ["z": "1", "y": ["2"]]])
            == #"2025-06-01T12:34:56.789+02:00 info serialbridge: m list="[a, b]" map="[y: [2], z: 1]" n=42"# + "\n")
    }

    @Test func textTimeOffsetsAndDates() {
        func stamp(_ seconds: Int64, _ offset: Int32, nanoseconds: Int32 = 0) -> String {
            var bytes: [UInt8] = []
            LogTimestamp(seconds: seconds, nanoseconds: nanoseconds, utcOffset: offset).appendLocal(to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(stamp(0, 0) == "1970-01-01T00:00:00.000+00:00")
        #expect(stamp(0, -9000, nanoseconds: 999_999_999) == "1969-12-31T21:30:00.999-02:30")
        #expect(stamp(951_782_400, 0) == "2000-02-29T00:00:00.000+00:00")
        #expect(stamp(4_107_542_400, 19800) == "2100-03-01T05:30:00.000+05:30")
    }

    @Test func journaldHasAPriorityPrefixAndNoTimestamp() {
        #expect(line(.journald, "opened /dev/ttyUSB0", ["device": "kitchen"]) == "<6>serialbridge: opened /dev/ttyUSB0 device=kitchen\n")
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func journaldPriorityOfEveryLevel(level: Logger.Level, priority: Int) {
        #expect(level.syslogPriority == priority)
        #expect(line(.journald, "x", level: level) == "<\(priority)>serialbridge: x\n")
    }

    @Test func journaldPrefixesEveryLineOfAMultiLineMessage() {
        #expect(line(.journald, "gw.json: $.a: unknown key\ngw.json: $.b: unknown key", ["k": "v"], level: .error)
            == "<3>serialbridge: gw.json: $.a: unknown key\n<3>gw.json: $.b: unknown key k=v\n")
    }

    @Test func jsonIsOneObjectPerLineInUTC() {
        #expect(line(.json, "meter is answering again", ["device": "meter-1", "port": "/dev/ttyUSB0"], level: .notice)
            == #"{"time":"2025-06-01T10:34:56.789Z","level":"notice","label":"serialbridge","message":"meter is answering again","metadata":{"device":"meter-1","port":"/dev/ttyUSB0"}}"# + "\n")
        #expect(line(.json, "no metadata") == #"{"time":"2025-06-01T10:34:56.789Z","level":"info","label":"serialbridge","message":"no metadata"}"# + "\n")
    }

    @Test func jsonEscapesQuotesBackslashesAndControlCharacters() throws {
        let message = "a \"quoted\" C:\\path\nnext\tline \u{01} é ✓"
        let text = line(.json, message, ["nested": ["list": ["x\"y", .stringConvertible(3)]]])
        #expect(text == #"{"time":"2025-06-01T10:34:56.789Z","level":"info","label":"serialbridge","message":"a \"quoted\" C:\\path\nnext\tline \u0001 é ✓","metadata":{"nested":{"list":["x\"y","3"]}}}"# + "\n")
        #expect(text.filter { $0 == "\n" }.count == 1, "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["message"] as? String == message)
    }

    @Test func theHandlerMergesLoggerEventAndProviderMetadataAndFiltersByLevel() {
        let capture = LineCapture()
        let provider = Logger.MetadataProvider { ["trace-id": "t1"] }
        var logger = Logger(label: "serialbridge") { label in
            LineLogHandler(label: label, format: .journald, level: .info, sink: capture, metadataProvider: provider)
        }
        logger[metadataKey: "device"] = "kitchen"
        logger.debug("dropped")
        logger.warning("read failed", metadata: ["port": "/dev/ttyUSB0", "device": "override"])
        #expect(capture.text == ["<4>serialbridge: read failed device=override port=/dev/ttyUSB0 trace-id=t1\n"])
    }

    @Test func theHandlerTakesItsTimeFromTheClock() {
        let capture = LineCapture()
        let time = time
        let logger = Logger(label: "gw") { label in
            LineLogHandler(label: label, format: .text, sink: capture, clock: { _ in time })
        }
        logger.info("hello")
        #expect(capture.text == ["2025-06-01T12:34:56.789+02:00 info gw: hello\n"])
    }

    @Test func autoPicksJournaldOnlyWhenStandardErrorIsTheJournalStream() throws {
        let directory = try TemporaryDirectory()
        let descriptor = open(directory.file("stream"), O_CREAT | O_WRONLY, 0o600)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        var status = stat()
        #expect(fstat(descriptor, &status) == 0)
        let matching = ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"]
        #expect(LogFormatSetting.auto.resolve(environment: matching, descriptor: descriptor) == .journald)
        #expect(LogFormatSetting.auto.resolve(environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino + 1)"], descriptor: descriptor) == .text)
        #expect(LogFormatSetting.auto.resolve(environment: ["JOURNAL_STREAM": "garbage"], descriptor: descriptor) == .text)
        #expect(LogFormatSetting.auto.resolve(environment: [:], descriptor: descriptor) == .text)
        #expect(LogFormatSetting.json.resolve(environment: matching, descriptor: descriptor) == .json)
        #expect(LogFormatSetting.text.resolve(environment: matching, descriptor: descriptor) == .text)
    }

    @Test func flagBeatsEnvironmentBeatsConfig() throws {
        let none: [String: String] = [:]
        #expect(try LoggingSetup.resolve(levelFlag: nil, formatFlag: nil, environment: none) == LoggingSetup(level: .info, format: .text))
        #expect(try LoggingSetup.resolve(levelFlag: nil, formatFlag: nil, environment: none, configLevel: "debug", configFormat: .json)
            == LoggingSetup(level: .debug, format: .json))
        let environment = ["SERIALBRIDGE_LOG_LEVEL": "warning", "SERIALBRIDGE_LOG_FORMAT": "journald"]
        #expect(try LoggingSetup.resolve(levelFlag: nil, formatFlag: nil, environment: environment, configLevel: "debug", configFormat: .json)
            == LoggingSetup(level: .warning, format: .journald))
        #expect(try LoggingSetup.resolve(levelFlag: "error", formatFlag: "json", environment: environment, configLevel: "debug", configFormat: .text)
            == LoggingSetup(level: .error, format: .json))
        #expect(try LoggingSetup.resolve(levelFlag: nil, formatFlag: nil, environment: ["SERIALBRIDGE_LOG_LEVEL": ""], configLevel: "debug")
            == LoggingSetup(level: .debug, format: .text), "an empty variable is unset")
    }

    @Test func badNamesSayWhereTheyCameFrom() {
        #expect(throws: LoggingSetupError(description: #"--log-format: must be one of "auto", "text", "journald", "json", not "xml""#)) {
            try LoggingSetup.resolve(levelFlag: nil, formatFlag: "xml", environment: [:])
        }
        #expect(throws: LoggingSetupError(description: #"env: SERIALBRIDGE_LOG_LEVEL: must be one of "trace", "debug", "info", "notice", "warning", "error", "critical", not "loud""#)) {
            try LoggingSetup.resolve(levelFlag: nil, formatFlag: nil, environment: ["SERIALBRIDGE_LOG_LEVEL": "loud"])
        }
    }
}
