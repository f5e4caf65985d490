import NIOCore
import NIOPosix
import SerialBridgeSerial

#if canImport(Glibc)
import Glibc
#endif

extension PseudoTerminal {
    /// An async NIO channel on a duplicate of the master side: reads are what the gateway wrote,
    /// writes reach the gateway. Closing it leaves the pseudo-terminal open.
    func masterChannel() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let descriptor = dup(masterDescriptor)
        guard descriptor >= 0 else { throw SerialPortError(.open, path: slavePath, errno: errno, detail: "dup") }
        return try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptor(inputOutput: descriptor) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }
}
