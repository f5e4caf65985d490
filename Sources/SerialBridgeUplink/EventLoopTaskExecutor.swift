import NIOCore

/// Runs tasks on one NIO event loop: a connection's tasks (reader, sender, heartbeats) run on the
/// thread that does the connection's I/O, so an acknowledgement read from the socket resumes its
/// task without waking another thread, and a write goes to the channel without a hop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
