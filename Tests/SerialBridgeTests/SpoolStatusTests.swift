import Foundation
import SerialBridgeProtocol
import SerialBridgeSpool
import Testing

@Suite("Spool: status")
struct SpoolStatusTests {
    @Test func statusComesFromTheRunningGatewaysFileOrFromTheFilesOfAStoppedOne() throws {
        let fixture = try SpoolFixture()
        #expect(throws: SpoolInspector.Failure.self) { _ = try SpoolInspector.inspect(directory: fixture.path) }
        let spool = try fixture.open()
        spool.append(SpoolFixture.frames(3, 1...40))
        spool.acknowledge(upTo: ReadingID(epoch: 3, sequence: 10))
        spool.commit()
        spool.keepHouse(now: 2_000)

        let running = try SpoolInspector.inspect(directory: fixture.path)
        #expect(running.running)
        #expect(running.pid == String(getpid()))
        #expect(running.status.depth == 30)
        #expect(running.status.committed == ReadingID(epoch: 3, sequence: 40))
        #expect(running.status.acknowledged == ReadingID(epoch: 3, sequence: 10))
        #expect(running.status.oldestUnacknowledgedTimestamp == 1_000)

        spool.close()
        let stopped = try SpoolInspector.inspect(directory: fixture.path)
        #expect(!stopped.running)
        #expect(stopped.status.depth == 30)
        #expect(stopped.status.committed == ReadingID(epoch: 3, sequence: 40))
        #expect(stopped.status.acknowledged == ReadingID(epoch: 3, sequence: 10))
        #expect(stopped.status.segments == 1)
        #expect(stopped.problems.isEmpty)
        // Inspecting took nothing: a gateway can open the spool right after.
        try fixture.open().close()
    }
}
