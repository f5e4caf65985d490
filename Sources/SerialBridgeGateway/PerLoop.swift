import NIOCore
import Synchronization

/// One object per event loop, made on first use on that loop and touched only there afterwards:
/// state that the channels of one loop share without a lock (``ReadTicker``, ``AppendBatcher``).
final class PerLoop<Value: AnyObject>: Sendable {
    private let values = Mutex<[ObjectIdentifier: NIOLoopBound<Value>]>([:])
    private let make: @Sendable (any EventLoop) -> Value

    /// Values made by `make` for the loop they will serve.
    init(_ make: @escaping @Sendable (any EventLoop) -> Value) {
        self.make = make
    }

    /// The value of `loop`; call on that loop.
    func on(_ loop: any EventLoop) -> Value {
        loop.preconditionInEventLoop()
        let key = ObjectIdentifier(loop)
        if let value = values.withLock({ $0[key] }) { return value.value }
        let value = NIOLoopBound(make(loop), eventLoop: loop)
        values.withLock { $0[key] = value }
        return value.value
    }
}
