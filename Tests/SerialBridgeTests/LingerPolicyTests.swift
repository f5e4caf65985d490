@testable import SerialBridgeUplink
import Testing

@Suite("Linger: readings that trickle in are gathered, readings batched upstream go at once")
struct LingerPolicyTests {
    private static let linger: Duration = .milliseconds(50)

    /// `#expect` cannot take a mutating call.
    private static func lingers(_ policy: inout LingerPolicy, count: Int, waited: Duration, appends: UInt64, unsent: Int) -> Bool {
        policy.afterSending(count: count, waited: waited, appends: appends, unsent: unsent)
    }

    @Test func readingsOfAPacedTickGoAtOnceEveryTime() {
        var policy = LingerPolicy(linger: Self.linger, batchSize: 500)
        // A tick's readings every 50 ms, one append each: the sender waited most of a tick for them.
        for _ in 0..<5 {
            #expect(!Self.lingers(&policy, count: 48, waited: .milliseconds(49), appends: 1, unsent: 0))
        }
        // Once misled into lingering by a reading that came soon, it goes back at the next batch:
        // what the linger gathered was one append.
        #expect(Self.lingers(&policy, count: 1, waited: .milliseconds(3), appends: 1, unsent: 0))
        #expect(!Self.lingers(&policy, count: 48, waited: .zero, appends: 1, unsent: 0))
        #expect(!Self.lingers(&policy, count: 48, waited: .milliseconds(49), appends: 1, unsent: 0))
    }

    @Test func readingsArrivingOneByOneAreGatheredForAsLongAsTheyTrickle() {
        var policy = LingerPolicy(linger: Self.linger, batchSize: 500)
        // A first reading after a quiet spell goes at once.
        #expect(!Self.lingers(&policy, count: 1, waited: .seconds(2), appends: 1, unsent: 0))
        // The next came 1 ms later: linger, and go on lingering while the gathered ones came apart.
        #expect(Self.lingers(&policy, count: 1, waited: .milliseconds(1), appends: 1, unsent: 0))
        #expect(Self.lingers(&policy, count: 50, waited: .zero, appends: 50, unsent: 0))
        #expect(Self.lingers(&policy, count: 50, waited: .zero, appends: 50, unsent: 0))
        // The stream stopped: the next reading, long after, goes at once.
        #expect(!Self.lingers(&policy, count: 1, waited: .zero, appends: 1, unsent: 0))
    }

    @Test func aFullBatchABacklogOrNoLingerNeverWait() {
        var policy = LingerPolicy(linger: Self.linger, batchSize: 500)
        #expect(!Self.lingers(&policy, count: 500, waited: .zero, appends: 3, unsent: 0))
        #expect(!Self.lingers(&policy, count: 10, waited: .zero, appends: 3, unsent: 500))
        var never = LingerPolicy(linger: .zero, batchSize: 500)
        #expect(!Self.lingers(&never, count: 1, waited: .zero, appends: 1, unsent: 0))
    }
}
