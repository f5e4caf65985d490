/// The exactly-once checks of the fault suite, on what the server stored.
enum DeliveryCheck {
    /// What a counting device's lines came to at the server.
    struct Lines: Sendable {
        /// Lines stored (once each).
        var delivered = 0
        /// Readings made of a line cut in two by a gateway kill (the tail read by the next run).
        var torn = 0
        /// Lines missing at a gateway kill: read by the killed process, not yet in its spool.
        var lostAtKill = 0
    }

    /// Every epoch's identities (readings and device events together, as the gateway numbers them)
    /// are exactly 1…max, each once. Returns the number of epochs and frames.
    static func identities(_ byEpoch: [Int64: [Int64]]) throws(FaultFailure) -> (epochs: Int, frames: Int) {
        var frames = 0
        for (epoch, sequences) in byEpoch.sorted(by: { $0.key < $1.key }) {
            var seen = Set<Int64>()
            let twice = sequences.filter { !seen.insert($0).inserted }
            guard twice.isEmpty else {
                throw FaultFailure("identities stored twice in epoch \(epoch): \(describe(twice))")
            }
            let top = sequences.max() ?? 0
            let missing = (1...max(1, top)).filter { !seen.contains($0) }
            guard missing.isEmpty else {
                throw FaultFailure("epoch \(epoch) has \(missing.count) identities missing below its newest (\(top)): \(describe(missing))")
            }
            frames += sequences.count
        }
        return (byEpoch.count, frames)
    }

    /// A ``CountingDevice``'s lines 1…`written` are stored each exactly once and in order.
    ///
    /// With `killed`, a gateway was SIGKILLed between epochs: the first reading of an epoch may be
    /// the tail of a line cut in two, and lines may be missing exactly at an epoch change (read by
    /// the killed process but not yet appended to its spool); both are counted, not failures.
    static func lines(
        _ readings: [ServerLedger.CountedReading], written: Int, device: String, killed: Bool = false
    ) throws(FaultFailure) -> Lines {
        var result = Lines()
        var last = 0
        var lastEpoch: Int64?
        var tornEpochs = Set<Int64>()
        for reading in readings {
            // A kill shows only where a later epoch takes over from an earlier one.
            let afterKill = killed && lastEpoch != nil && reading.epoch != lastEpoch
            guard reading.check == CountingDevice.check(reading.number), (1...max(1, written)).contains(reading.number) else {
                if afterKill, tornEpochs.insert(reading.epoch).inserted {
                    result.torn += 1
                    continue
                }
                throw FaultFailure("\(device): reading \(reading.epoch)/\(reading.sequence) holds \(reading.number),\(reading.check), which is no line the device wrote")
            }
            guard reading.number > last else {
                throw FaultFailure("\(device): line \(reading.number) stored again (or out of order) at \(reading.epoch)/\(reading.sequence), after line \(last)")
            }
            if reading.number != last + 1 {
                guard afterKill else {
                    throw FaultFailure("\(device): lines \(last + 1)…\(reading.number - 1) missing before \(reading.epoch)/\(reading.sequence)")
                }
                result.lostAtKill += reading.number - last - 1
            }
            last = reading.number
            lastEpoch = reading.epoch
            result.delivered += 1
        }
        guard last == written else {
            throw FaultFailure("\(device): the device wrote \(written) lines, the server holds them up to line \(last) (\(result.delivered) stored)")
        }
        return result
    }

    /// The first few of `values`, for a message.
    static func describe<T>(_ values: [T]) -> String {
        values.prefix(8).map { "\($0)" }.joined(separator: ", ") + (values.count > 8 ? ", …" : "")
    }
}
