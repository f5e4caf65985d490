import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Cleans up every live workspace when the bench is interrupted: the children run in process
/// groups of their own, so the terminal's Ctrl-C does not reach them.
enum FaultCleanup {
    private static let live = Mutex<[ObjectIdentifier: FaultWorkspace]>([:])

    static func register(_ workspace: FaultWorkspace) { live.withLock { $0[ObjectIdentifier(workspace)] = workspace } }
    static func unregister(_ workspace: FaultWorkspace) { _ = live.withLock { $0.removeValue(forKey: ObjectIdentifier(workspace)) } }

    /// On SIGINT or SIGTERM: clean up every live workspace, remove `root`, exit 130. The caller
    /// keeps the returned sources alive as long as the handling should last.
    static func installSignalHandlers(root: String) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let workspaces = live.withLock { Array($0.values) }
                for workspace in workspaces { workspace.cleanup() }
                try? FileManager.default.removeItem(atPath: root)
                FileHandle.standardError.write(Data("faults: interrupted; every process stopped and temporary file removed\n".utf8))
                exit(130)
            }
            source.resume()
            return source
        }
    }
}
