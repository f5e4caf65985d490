import SerialBridgeParsing
import SerialBridgePolling
import SerialBridgeProfiles
import SerialBridgeProtocol
import SerialBridgeSimulator

/// The gateway's hot path for a device that must be asked (a polled or Modbus profile), without
/// I/O: the bus scheduler picks the next request, a fresh framer cuts the device's answer, the
/// scheduler checks it and decodes it (Modbus registers, or the profile's decoder), and each reading
/// is encoded as the gateway's `reading` message, as `BusSession` does. Time is made up: each step
/// runs at the scheduler's next wake-up, so no poll interval is waited for.
struct PolledPipeline {
    let profile: DeviceProfile
    let device: PolledDevice
    /// The answers of the simulated device, in the order the requests go out.
    let answers: [[UInt8]]

    /// Records the simulated device's answers to `cycles` poll cycles (returns nil when the
    /// profile is not polled).
    init?(profile: DeviceProfile, cycles: Int) throws {
        guard let device = profile.polledDevice(name: "dev") else { return nil }
        self.profile = profile
        self.device = device
        var simulator = try DeviceSimulator(profile: profile, seed: 1, units: device.unit.map { Set([$0]) } ?? [])
        var answers: [[UInt8]] = []
        Self.drive(device: device, framing: profile.parsing.framing, requests: cycles * max(1, device.requests.count)) { request in
            let answer = simulator.respond(to: request)
            answers.append(answer)
            return answer
        } onReading: { _ in }
        self.answers = answers
    }

    /// Device bytes per pass (the answers).
    var bytes: Int { answers.reduce(0) { $0 + $1.count } }

    /// One pass over the recorded answers; returns the readings made.
    func run(encode: Bool) -> Int {
        let encoder = ReadingEncoder(gateway: "gw-bench", device: "dev", profile: profile.name, fields: device.outputFields.map { ($0.name, $0.unit) })
        var index = 0
        var count = 0
        var sequence: Int64 = 0
        var bytesOut = 0
        Self.drive(device: device, framing: profile.parsing.framing, requests: answers.count) { _ in
            defer { index += 1 }
            return answers[index]
        } onReading: { reading in
            count += 1
            guard encode else { return }
            sequence += 1
            bytesOut &+= encoder.encode(
                id: ReadingID(epoch: 1, sequence: sequence), timestamp: 1_795_753_200_000,
                values: reading.values.map { $0.map(WireValue.init) }, outOfRange: reading.outOfRange
            ).count
        }
        precondition(bytesOut > 0 || count == 0 || !encode)
        return count
    }

    /// Sends `requests` requests through a scheduler; `answer` gives the device's bytes for each.
    private static func drive(
        device: PolledDevice, framing: any FramerConfiguration, requests: Int, answer: (_ request: [UInt8]) -> [UInt8],
        onReading: (ParsedReading) -> Void
    ) {
        var scheduler = BusScheduler(devices: [device], now: 0)
        var now: UInt64 = 0
        var sent = 0
        while sent < requests {
            scheduler.expire(at: now)
            guard let request = scheduler.nextRequest(at: now) else {
                guard let wakeup = scheduler.nextWakeup else { return }
                now = max(now + 1, wakeup)
                continue
            }
            sent += 1
            var framer = framing.makeFramer()
            let bytes = answer(request)
            bytes.withUnsafeBytes { buffer in
                framer.feed(buffer, at: now) { event in
                    if case .frame(let frame, _) = event { scheduler.receive(frame, at: now) }
                }
            }
            for output in scheduler.takeOutputs() {
                if case .reading(_, let reading) = output { onReading(reading) }
            }
        }
    }
}
