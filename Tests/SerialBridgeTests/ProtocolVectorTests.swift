import SerialBridgeJSON
import SerialBridgeProtocol
import Testing

@Suite("Wire protocol v1: byte-exact vectors")
struct ProtocolVectorTests {
    static let gateway = "gw-1"

    static let cases: [(String, Message)] = [
        ("hello", .hello(Hello(gateway: gateway, software: "0.1.0", protocols: [1], epoch: 7, lastSequence: 0))),
        ("hello-dropped", .hello(Hello(gateway: gateway, software: "0.1.0", protocols: [1], epoch: 7, lastSequence: 1042, dropped: 12))),
        ("welcome", .welcome(Welcome(protocolVersion: 1, acked: ReadingID(epoch: 6, sequence: 1042), heartbeatMs: 10_000))),
        ("welcome-empty", .welcome(Welcome(protocolVersion: 1, acked: nil, heartbeatMs: 10_000))),
        ("reading", .reading(Reading(
            gateway: gateway, id: ReadingID(epoch: 7, sequence: 1), device: "sensor-1", profile: "generic-csv-lines",
            timestamp: 1_795_753_200_000,
            values: [
                NamedValue(name: "temperature", value: .float(21.5), unit: "°C"),
                NamedValue(name: "humidity", value: .float(40.2), unit: "%"),
            ]
        ))),
        ("reading-types", .reading(Reading(
            gateway: gateway, id: ReadingID(epoch: 7, sequence: 2), device: "meter \"A\"", profile: "p", timestamp: 0,
            values: [
                NamedValue(name: "count", value: .integer(-3)),
                NamedValue(name: "ok", value: .boolean(true)),
                NamedValue(name: "label", value: .string("line\nbreak")),
                NamedValue(name: "ratio", value: .float(0.25)),
            ]
        ))),
        ("reading-flags", .reading(Reading(
            gateway: gateway, id: ReadingID(epoch: 7, sequence: 3), device: "cam", profile: "raw-dump", timestamp: 5,
            values: [
                NamedValue(name: "pm2_5", value: .float(1200.5), unit: "µg/m³"),
                NamedValue(name: "raw", value: .bytes([0x41, 0x4D, 0x00, 0x1C])),
            ],
            outOfRange: ["pm2_5"]
        ))),
        ("device", .device(DeviceStateChange(
            gateway: gateway, id: ReadingID(epoch: 7, sequence: 4), device: "sensor-1", kind: .detached,
            profile: "generic-csv-lines", path: "/dev/ttyUSB0", timestamp: 1_795_753_260_000, message: "end of data",
            counters: [("bytes", 5120), ("readings", 512), ("decodeErrors", 1), ("reopens", 1)]
        ))),
        ("device-commands", .device(DeviceStateChange(
            gateway: gateway, id: ReadingID(epoch: 7, sequence: 5), device: "co2", kind: .attached,
            profile: "winsen-mhz19b", path: "/dev/ttyUSB1", timestamp: 1_795_753_260_000,
            commands: [
                CommandDescription(name: "calibrateSpan", arguments: [.init(name: "ppm", kind: .integer, min: 1000, max: 10000)]),
                CommandDescription(name: "readCO2"),
            ]
        ))),
        ("ack", .ack(Ack(id: ReadingID(epoch: 7, sequence: 1)))),
        ("ping", .ping(Heartbeat(timestamp: 1_795_753_200_000))),
        ("pong", .pong(Heartbeat(timestamp: 1_795_753_200_000, serverTimestamp: 1_795_753_200_003))),
        ("error", .error(ProtocolErrorMessage(code: "gateway-mismatch", message: "token is for \"gw-1\""))),
        ("command", .command(CommandRequest(id: "c-17", device: "meter-1", name: "setPulseWidth", arguments: ["ms": 100, "ratio": 0.5]))),
        ("command-result", .commandResult(CommandResultMessage(id: "c-17", device: "meter-1", status: .exception, exceptionCode: 2, message: "illegal data address"))),
        ("command-answered", .commandResult(CommandResultMessage(
            id: "c-18", device: "co2", status: .answered, response: [0xFF, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xD1]
        ))),
        ("tap-start", .tapStart(TapRequest(device: "co2"))),
        ("tap-data", .tapData(TapData(
            device: "co2", timestamp: 1_795_753_200_000, direction: .rx, bytes: [0xFF, 0x86, 0x02, 0x60, 0x47, 0x00, 0x00, 0x00, 0xD1]
        ))),
        ("link", .link(LinkReport(
            timestamp: 1_795_753_200_000, rttLastMs: 12, rttMeanMs: 10.5, rttP99Ms: 40, missedBeats: 3,
            endings: [("dropped", 1), ("heartbeat-timeout", 1)], messagesOut: 120, bytesOut: 24000, messagesIn: 118,
            bytesIn: 4000, queueDepth: 5
        ))),
        ("batch", .batch([
            .reading(Reading(
                gateway: gateway, id: ReadingID(epoch: 7, sequence: 1), device: "sensor-1", profile: "generic-csv-lines",
                timestamp: 1_795_753_200_000,
                values: [
                    NamedValue(name: "temperature", value: .float(21.5), unit: "°C"),
                    NamedValue(name: "humidity", value: .float(40.2), unit: "%"),
                ]
            )),
            .device(DeviceStateChange(
                gateway: gateway, id: ReadingID(epoch: 7, sequence: 2), device: "sensor-1", kind: .error,
                profile: "generic-csv-lines", path: "/dev/ttyUSB0", timestamp: 1_795_753_200_001, message: "not answering"
            )),
        ])),
    ]

    @Test(arguments: cases.map(\.0))
    func encoderProducesTheVectorBytes(name: String) throws {
        let message = try #require(Self.cases.first { $0.0 == name }?.1)
        let expected = try vectorBytes(name)
        let actual = MessageCodec.encode(message)
        #expect(actual == expected, "encoded: \(String(decoding: actual, as: UTF8.self))")
    }

    @Test(arguments: cases.map(\.0))
    func decoderReadsTheVectorBytes(name: String) throws {
        let message = try #require(Self.cases.first { $0.0 == name }?.1)
        #expect(try MessageCodec.decode(vectorBytes(name)) == message)
    }
}

@Suite("Wire protocol v1: malformed input")
struct ProtocolMalformedTests {
    @Test(arguments: [
        ("", "invalid JSON: unexpected end at byte 0"),
        ("[1]", "message must be a JSON object"),
        (#"{"type":"warp"}"#, #"unknown message type "warp""#),
        (#"{"type":"ack","epoch":1}"#, "ack.seq is missing"),
        (#"{"type":"ack","epoch":"1","seq":2}"#, "ack.epoch must be an integer"),
        (#"{"type":"ack","epoch":1.5,"seq":2}"#, "ack.epoch must be an integer"),
        (#"{"type":"reading","gateway":"g","epoch":1,"seq":1,"device":"d","profile":"p","ts":0,"values":[]}"#, "reading.values must be an object"),
        (#"{"type":"reading","gateway":"g","epoch":0,"seq":1,"device":"d","profile":"p","ts":0,"values":{}}"#, "reading epoch and seq must be positive"),
        (#"{"type":"reading","gateway":"g","epoch":1,"seq":1,"device":"d","profile":"p","ts":0,"values":{"x":null}}"#, #"reading.values.x must be a number, string, boolean or {"base64": …}"#),
        (#"{"type":"hello"} trailing"#, "invalid JSON: unexpected data after the document at byte 17"),
        (#"{"type":"ping","ts":01}"#, "invalid JSON: leading zero at byte 20"),
        (#"{"type":"ping","ts":1e999}"#, "invalid JSON: number out of range at byte 20"),
        (#"{"type":"device","gateway":"g","epoch":1,"seq":1,"device":"d","event":"attached","profile":"p","path":"/dev/x","ts":0,"counters":{},"commands":[{"name":"c","arguments":[{"name":"a","type":"text"}]}]}"#,
         "device.commands[0].arguments[0].type must be integer or number"),
    ])
    func malformedMessagesGetSpecificErrors(input: String, error: String) {
        #expect(throws: MessageDecodingError(error)) { try MessageCodec.decode(Array(input.utf8)) }
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: MessageDecodingError("invalid JSON: nested too deeply at byte 32")) {
            try MessageCodec.decode(Array(deep.utf8))
        }
    }

    @Test func oversizeMessageIsRefusedBeforeParsing() {
        let big = [UInt8](repeating: 0x20, count: MessageCodec.maxMessageBytes + 1)
        #expect(throws: MessageDecodingError("message of 1048577 bytes exceeds 1048576")) { try MessageCodec.decode(big) }
    }

    @Test func unknownFieldsAreIgnoredForForwardCompatibility() throws {
        let text = #"{"type":"ack","epoch":1,"seq":2,"future":{"x":[1,2]}}"#
        #expect(try MessageCodec.decode(Array(text.utf8)) == .ack(Ack(id: ReadingID(epoch: 1, sequence: 2))))
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]":,0123456789.-eEtruefalsn\ "#.utf8)
        for _ in 0..<10_000 {
            let bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            _ = try? MessageCodec.decode(bytes)
        }
    }
}

@Suite("Reading encoder: the gateway's fast path")
struct ReadingEncoderTests {
    @Test(arguments: ["reading", "reading-types", "reading-flags"])
    func fastEncoderProducesTheVectorBytes(name: String) throws {
        guard case .reading(let reading)? = ProtocolVectorTests.cases.first(where: { $0.0 == name })?.1 else {
            Issue.record("no such vector")
            return
        }
        let encoder = ReadingEncoder(
            gateway: reading.gateway, device: reading.device, profile: reading.profile,
            fields: reading.values.map { ($0.name, $0.unit) }
        )
        let bytes = encoder.encode(id: reading.id, timestamp: reading.timestamp, values: reading.values.map(\.value), outOfRange: reading.outOfRange)
        #expect(bytes == (try vectorBytes(name)))
    }

    @Test func matchesTheGeneralEncoderWhateverTheValuesTypes() {
        let fields: [(name: String, unit: String?)] = [("a", "V"), ("b", nil)]
        let encoder = ReadingEncoder(gateway: "g", device: "d", profile: "p", fields: fields)
        let samples: [WireValue] = [
            .float(21.5), .float(-0.0), .float(1e-7), .float(.nan), .float(123_456_789.125), .integer(.min), .integer(0),
            .boolean(true), .boolean(false), .string("t\u{7}\""), .bytes([0, 255]), .string("gps"), .string(""), .string("°C ✓"),
            .string(String(repeating: "x", count: 30)), .string(String(repeating: "y", count: 31)),
        ]
        for first in samples {
            for second in samples {
                for outOfRange in [[], ["b"]] {
                    let values: [WireValue?] = [first, second]
                    let named = zip(fields, values).compactMap { field, value in value.map { NamedValue(name: field.name, value: $0, unit: field.unit) } }
                    let reading = Reading(gateway: "g", id: ReadingID(epoch: 1, sequence: 9), device: "d", profile: "p", timestamp: 1, values: named, outOfRange: outOfRange)
                    let fast = encoder.encode(id: reading.id, timestamp: reading.timestamp, values: values, outOfRange: outOfRange)
                    #expect(fast == MessageCodec.encode(.reading(reading)), "\(String(decoding: fast, as: UTF8.self))")
                }
            }
        }
        let none = ReadingEncoder(gateway: "g", device: "d", profile: "p", fields: [])
        let empty = Reading(gateway: "g", id: ReadingID(epoch: 1, sequence: 1), device: "d", profile: "p", timestamp: 1, values: [], outOfRange: [])
        #expect(none.encode(id: empty.id, timestamp: 1, values: []) == MessageCodec.encode(.reading(empty)))
    }

    @Test func matchesTheGeneralEncoderWhateverValuesAreMissing() {
        let fields: [(name: String, unit: String?)] = [("a", "V"), ("b", nil), ("c", "°C"), ("d", "%")]
        let encoder = ReadingEncoder(gateway: "g", device: "d\"1", profile: "p", fields: fields)
        for mask in 0..<16 {
            let values: [WireValue?] = (0..<4).map { index in mask & (1 << index) != 0 ? .float(Double(index) + 0.5) : nil }
            let named = zip(fields, values).compactMap { field, value in value.map { NamedValue(name: field.name, value: $0, unit: field.unit) } }
            let reading = Reading(gateway: "g", id: ReadingID(epoch: 2, sequence: Int64(mask + 1)), device: "d\"1", profile: "p", timestamp: -5, values: named, outOfRange: mask % 4 == 3 ? ["a"] : [])
            let fast = encoder.encode(id: reading.id, timestamp: reading.timestamp, values: values, outOfRange: reading.outOfRange)
            #expect(fast == MessageCodec.encode(.reading(reading)), "mask \(mask): \(String(decoding: fast, as: UTF8.self))")
        }
    }
}
