import ArgumentParser
import SerialBridgeGateway
import SerialBridgeJSON
import SerialBridgeLogging
import SerialBridgeProtocol
import SerialBridgeSpool

/// `serialbridge spool …`: the gateway's store-and-forward spool.
struct SpoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Inspect the gateway's store-and-forward spool (docs/SPOOL.md).",
        subcommands: [Status.self]
    )

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Depth, oldest frame age, bytes on disk, committed high-water mark, acknowledged mark, dropped count. Read-only: safe while the gateway runs."
        )

        @Option(name: .long, help: "Gateway config file (its stateDirectory holds the spool); SERIALBRIDGE_* variables override it.")
        var config: String = GatewayConfig.defaultFile

        @Flag(name: .long, help: "One JSON object instead of text.")
        var json = false

        func run() throws {
            let loaded: GatewayConfig
            do {
                loaded = try GatewayConfig.load(file: config, environment: ProcessEnvironment.current())
            } catch {
                FileHandleOutput.standardError("\(error)\n")
                throw ExitCode(2)
            }
            let directory = loaded.stateDirectory + "/spool"
            let report: SpoolInspector.Report
            do {
                report = try SpoolInspector.inspect(directory: directory)
            } catch {
                FileHandleOutput.standardError("\(error)\n")
                throw ExitCode(1)
            }
            var output = json ? Self.json(report) : Array(Self.text(report, directory: directory).utf8)
            FileHandleOutput.write(1, &output)
        }

        static func json(_ report: SpoolInspector.Report) -> [UInt8] {
            var head = JSONWriter(capacity: 64)
            head.beginObject()
            head.key("running"); head.bool(report.running)
            head.key("pid")
            if let pid = report.pid, let number = Int64(pid) { head.integer(number) } else { head.null() }
            head.endObject()
            var problems = JSONWriter(capacity: 64)
            problems.beginArray()
            for problem in report.problems { problems.string(problem) }
            problems.endArray()
            // {"running":…,"pid":…,"status":{…},"problems":[…]}
            return head.bytes.dropLast() + Array(#","status":"#.utf8) + report.status.json
                + Array(#","problems":"#.utf8) + problems.bytes + Array("}\n".utf8)
        }

        static func text(_ report: SpoolInspector.Report, directory: String) -> String {
            let status = report.status
            let now = Timestamp.nowMilliseconds()
            func mark(_ id: ReadingID?) -> String { id.map { "\($0.epoch)/\($0.sequence)" } ?? "none" }
            var lines = [
                "spool      \(directory) (\(report.running ? "gateway running\(report.pid.map { ", pid \($0)" } ?? "")" : "gateway stopped"))",
                "depth      \(status.depth) frames not acknowledged by the server",
                "oldest     \(status.oldestAge(now: now).map { Self.age($0) + " old" } ?? "-")",
                "on disk    \(status.bytes) bytes in \(status.segments) segment(s)",
                "committed  \(mark(status.committed))\(report.running ? " (fsynced or acknowledged)" : " (newest frame in the files)")",
                "appended   \(mark(status.lastAppended))",
                "acked      \(mark(status.acknowledged))",
                "dropped    \(status.dropped) frames since the spool was created",
            ]
            if report.running {
                lines.append("as of      \(Self.age(max(0, now - status.takenAt))) ago, \(status.commits) group commits this run")
            }
            lines += report.problems.map { "problem    \($0)" }
            return lines.joined(separator: "\n") + "\n"
        }

        static func age(_ milliseconds: Int64) -> String {
            switch milliseconds {
            case ..<1_000: "\(milliseconds) ms"
            case ..<60_000: "\(milliseconds / 1000).\(milliseconds % 1000 / 100) s"
            case ..<3_600_000: "\(milliseconds / 60_000) min \(milliseconds % 60_000 / 1000) s"
            default: "\(milliseconds / 3_600_000) h \(milliseconds % 3_600_000 / 60_000) min"
            }
        }
    }
}
