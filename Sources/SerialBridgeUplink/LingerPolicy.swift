/// Whether the sender lets readings gather for a while after sending a batch, so that readings
/// trickling in one by one go out in one message (one deflate, one ack) instead of one each.
/// Sans I/O: the sender reports each batch and sleeps when told to.
///
/// Lingering pays only while readings trickle in. Readings gathered upstream (the readings of a
/// paced read tick, of a poll) arrive in one append, and the next ones come no sooner: waiting
/// for them would only add a timer and a wake-up per batch, and delay every batch. So:
/// - after a batch it did not linger for, the sender lingers when the batch came soon (it waited
///   less than half the linger for it): the readings come one shortly after another;
/// - after a linger, it lingers again only if the readings it gathered came in separate appends:
///   still trickling. One append means the upstream batches by itself, and the sender goes back
///   to sending each batch as it comes.
/// A full batch, or a backlog of a batch's worth, goes on at once.
struct LingerPolicy: Sendable, Equatable {
    /// How long to let readings gather; zero: never.
    let linger: Duration
    /// Frames per batch.
    let batchSize: Int
    private var lingered = false
    /// The queue's append count when the previous batch was taken.
    private var appendsBefore: UInt64

    /// A policy for a sender whose queue has seen `appends` appends so far.
    init(linger: Duration, batchSize: Int, appends: UInt64 = 0) {
        self.linger = linger
        self.batchSize = batchSize
        appendsBefore = appends
    }

    /// After sending a batch of `count` frames, which the sender `waited` for and took when the
    /// queue had seen `appends` appends in all (``OutboundQueue/appends``); `unsent` frames are
    /// left. True: sleep ``linger`` before taking the next batch.
    mutating func afterSending(count: Int, waited: Duration, appends: UInt64, unsent: Int) -> Bool {
        let gathered = appends &- appendsBefore
        appendsBefore = appends
        let trickling = lingered ? gathered > 1 : waited < linger / 2
        lingered = linger > .zero && trickling && count < batchSize && unsent < batchSize
        return lingered
    }
}
