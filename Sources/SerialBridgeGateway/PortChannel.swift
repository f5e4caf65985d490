import NIOCore
import NIOPosix
import SerialBridgeSerial

extension SerialPort {
    /// An async NIO channel on a duplicate of the port's descriptor: reads are the device's bytes,
    /// writes go to the device. The channel owns the duplicate; the port keeps its own descriptor
    /// (and its lock) until ``close()``.
    func asyncChannel() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let descriptor = try duplicateDescriptor()
        return try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptor(inputOutput: descriptor) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }
}

extension SerialPort {
    /// A NIO channel on `loop` over a duplicate of the port's descriptor, with the handler that
    /// `makeHandler` builds (on the loop) reading the device's bytes there. The channel owns the
    /// duplicate; the port keeps its own descriptor (and its lock) until ``close()``.
    func channel(
        on loop: any EventLoop, handler makeHandler: @escaping @Sendable () -> any ChannelHandler
    ) async throws -> any Channel {
        let descriptor = try duplicateDescriptor()
        return try await NIOPipeBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .takingOwnershipOfDescriptor(inputOutput: descriptor)
            .get()
    }
}
