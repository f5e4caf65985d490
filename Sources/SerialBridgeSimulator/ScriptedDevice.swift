import NIOCore
import NIOPosix
import SerialBridgeSerial
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A device whose every answer a script decides, on a fresh pseudo-terminal: for tests and fault
/// injection (corrupted answers, silence, slow replies) that a profile's simulation cannot play.
public final class ScriptedDevice: Sendable {
    /// Given everything received since the last answer: nil to keep collecting, an empty array to
    /// swallow it in silence, or the bytes to answer.
    public typealias Script = @Sendable (_ received: [UInt8]) -> [UInt8]?

    /// The pseudo-terminal the gateway opens.
    public let terminal: PseudoTerminal
    private let script: Script
    private let log = Mutex<[[UInt8]]>([])

    /// Creates the pseudo-terminal.
    public init(script: @escaping Script) throws {
        self.terminal = try PseudoTerminal()
        self.script = script
    }

    /// Every chunk of bytes the device has received, in order.
    public var received: [[UInt8]] { log.withLock { $0 } }

    /// Answers until cancelled.
    public func run() async throws {
        let channel = try await terminal.masterChannel()
        try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                var pending: [UInt8] = []
                for try await buffer in inbound {
                    let bytes = Array(buffer.readableBytesView)
                    log.withLock { $0.append(bytes) }
                    pending += bytes
                    guard let answer = script(pending) else { continue }
                    pending.removeAll()
                    if !answer.isEmpty { try await outbound.write(ByteBuffer(bytes: answer)) }
                }
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }
}
