import ArgumentParser
import Foundation
import GRDB
import Logging
import SerialBridgeProtocol
import SerialBridgeSpool

#if canImport(Glibc)
import Glibc
#endif

/// `serialbridge-bench spool-sqlite`: the alternative the spool was measured against, SQLite in
/// WAL mode through GRDB, appending the same frames one per transaction (as device sessions
/// append), with each durability setting, then forgetting an acknowledged prefix.
struct SpoolSQLiteBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool-sqlite",
        abstract: "The same appends into SQLite (WAL, GRDB), for docs/SPOOL.md's comparison."
    )

    @Option(help: "Folder for the databases and the spool (emptied first).")
    var directory = "/tmp/serialbridge-bench-sqlite"

    @Option(help: "Frames appended per run.")
    var frames = 200_000

    func run() throws {
        _ = Posix.run("rm -rf '\(directory)' && mkdir -p '\(directory)'")
        let encoders = (0..<64).map { BenchReadings.encoder(device: $0) }
        let payloads = (0..<frames).map { index in
            BenchReadings.message(encoders[index % 64], index, id: ReadingID(epoch: 1, sequence: Int64(index + 1)))
        }

        // The segment log: one append per frame, commit thread running (the default durability).
        let spool = try Spool.open(directory: directory + "/spool", logger: Logger(label: "bench"))
        var start = ContinuousClock.now
        for (index, payload) in payloads.enumerated() {
            spool.append([SpoolFrame(id: ReadingID(epoch: 1, sequence: Int64(index + 1)), timestamp: 0, payload: payload)])
        }
        spool.commit()
        report("segment log, append + group commit (100 ms)", frames, ContinuousClock.now - start, extra: "\(spool.status.commits) fsyncs")
        start = ContinuousClock.now
        spool.acknowledge(upTo: ReadingID(epoch: 1, sequence: Int64(frames / 2)))
        report("segment log, forget half (unlink whole segments)", frames / 2, ContinuousClock.now - start)
        spool.close()

        for (name, synchronous, count) in [("NORMAL", "NORMAL", frames), ("FULL", "FULL", min(frames, 2_000))] {
            var configuration = Configuration()
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
            let database = try DatabasePool(path: "\(directory)/spool-\(name).sqlite", configuration: configuration)
            try database.write { db in
                try db.execute(sql: "CREATE TABLE frames (epoch INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (epoch, seq)) WITHOUT ROWID")
            }
            let blobs = payloads.prefix(count).map { Data($0) }
            start = ContinuousClock.now
            for (index, payload) in blobs.enumerated() {
                try database.write { db in
                    try db.cachedStatement(sql: "INSERT INTO frames VALUES (1, ?, 0, ?)").execute(arguments: [index + 1, payload])
                }
            }
            let durability = synchronous == "FULL" ? "fsync per transaction" : "WAL fsynced only at checkpoints"
            report("SQLite WAL synchronous=\(name), one transaction per append", count, ContinuousClock.now - start, extra: durability)
            start = ContinuousClock.now
            try database.write { db in try db.execute(sql: "DELETE FROM frames WHERE epoch = 1 AND seq <= ?", arguments: [count / 2]) }
            report("SQLite WAL synchronous=\(name), delete half", count / 2, ContinuousClock.now - start)
        }
    }

    private func report(_ what: String, _ count: Int, _ elapsed: Duration, extra: String = "") {
        let rate = Int(Double(count) / max(elapsed.seconds, 1e-9))
        print("\(what.padding(62)) \(rate.formatted(10)) frames/s  (\(count) in \(elapsed.formatted)\(extra.isEmpty ? "" : "; " + extra))")
    }
}
