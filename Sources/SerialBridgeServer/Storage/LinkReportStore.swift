import SerialBridgeProtocol

/// A storage that keeps each gateway's latest link report, so that every server instance on it can
/// show the link of a gateway connected to another (PostgreSQL: ``PostgresStorage``). A single
/// SQLite server holds its gateways' reports in memory (``GatewayRegistry``) and needs none.
protocol LinkReportStore: Sendable {
    /// Replaces `gateway`'s stored report.
    func recordLink(_ report: LinkReport, gateway: String) async throws
    /// The latest report of every gateway that sent one, by gateway id.
    func links() async throws -> [String: LinkReport]
}
