/// Why a fault scenario did not hold (or could not be run): printed after `FAILED:`.
struct FaultFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A scenario that cannot run here (printed after `skipped:`; not a failure).
struct FaultSkipped: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Thrown by a ``waitFor(_:timeout:every:_:)`` condition when waiting longer is pointless (the
/// process that should get there has exited): the wait fails at once with this reason.
struct FaultAbort: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
