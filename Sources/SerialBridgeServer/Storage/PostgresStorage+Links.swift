import PostgresNIO
import SerialBridgeProtocol

extension PostgresStorage: LinkReportStore {
    func recordLink(_ report: LinkReport, gateway: String) async throws {
        let causes = report.endings.map(\.0)
        let counts = report.endings.map(\.1)
        try await client.query(
            """
            INSERT INTO gateway_links (gateway, ts, rtt_last_ms, rtt_mean_ms, rtt_p99_ms, missed_beats, ending_causes, ending_counts,
                                       messages_out, bytes_out, messages_in, bytes_in, queue_depth)
            VALUES (\(gateway), \(report.timestamp), \(report.rttLastMs), \(report.rttMeanMs), \(report.rttP99Ms), \(report.missedBeats),
                    \(causes), \(counts), \(report.messagesOut), \(report.bytesOut), \(report.messagesIn), \(report.bytesIn), \(report.queueDepth))
            ON CONFLICT (gateway) DO UPDATE SET ts = excluded.ts, rtt_last_ms = excluded.rtt_last_ms, rtt_mean_ms = excluded.rtt_mean_ms,
                rtt_p99_ms = excluded.rtt_p99_ms, missed_beats = excluded.missed_beats, ending_causes = excluded.ending_causes,
                ending_counts = excluded.ending_counts, messages_out = excluded.messages_out, bytes_out = excluded.bytes_out,
                messages_in = excluded.messages_in, bytes_in = excluded.bytes_in, queue_depth = excluded.queue_depth
            """,
            logger: logger
        )
    }

    func links() async throws -> [String: LinkReport] {
        let rows = try await client.query(
            """
            SELECT gateway, ts, rtt_last_ms, rtt_mean_ms, rtt_p99_ms, missed_beats, ending_causes, ending_counts,
                   messages_out, bytes_out, messages_in, bytes_in, queue_depth
            FROM gateway_links
            """,
            logger: logger
        )
        var links: [String: LinkReport] = [:]
        let columns = (String, Int64, Int64?, Double?, Int64?, Int64, [String], [Int64], Int64, Int64, Int64, Int64, Int64).self
        for try await row in rows.decode(columns) {
            links[row.0] = LinkReport(
                timestamp: row.1, rttLastMs: row.2, rttMeanMs: row.3, rttP99Ms: row.4, missedBeats: row.5,
                endings: Array(zip(row.6, row.7)), messagesOut: row.8, bytesOut: row.9, messagesIn: row.10, bytesIn: row.11,
                queueDepth: row.12
            )
        }
        return links
    }
}
