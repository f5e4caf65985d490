@testable import SerialBridgeUplink
import Testing

@Suite("Linger: readings that trickle in are gathered, readings batched upstream go at once")
struct LingerPolicyTests {
    private static let linger: Duration = .milliseconds(50)

    /// A sender's side: the queue's append count grows by what each batch `gathered`.
    private struct Sender {
        var policy: LingerPolicy
        var appends: UInt64 = 0

        init(linger: Duration = LingerPolicyTests.linger) {
            policy = LingerPolicy(linger: linger, batchSize: 500)
        }

        mutating func lingers(count: Int, waited: Duration, gathered: UInt64, unsent: Int) -> Bool {
            appends += gathered
            return policy.afterSending(count: count, waited: waited, appends: appends, unsent: unsent)
        }
    }

    /// `#expect` cannot take a mutating call.
    private static func lingers(_ sender: inout Sender, count: Int, waited: Duration, appends: UInt64, unsent: Int) -> Bool {
        sender.lingers(count: count, waited: waited, gathered: appends, unsent: unsent)
    }

    @Test func readingsOfAPacedTickGoAtOnceEveryTime() {
        var policy = Sender()
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
        var policy = Sender()
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
        var policy = Sender()
        #expect(!Self.lingers(&policy, count: 500, waited: .zero, appends: 3, unsent: 0))
        #expect(!Self.lingers(&policy, count: 10, waited: .zero, appends: 3, unsent: 500))
        var never = Sender(linger: .zero)
        #expect(!Self.lingers(&never, count: 1, waited: .zero, appends: 1, unsent: 0))
    }
}
