import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import SerialBridgeProtocol
import Synchronization

/// The gateways connected to this server: how to reach each one (commands, taps) and what it last
/// said about its link. One entry per gateway; a newer connection of the same gateway replaces the
/// older one.
public final class GatewayRegistry: Sendable {
    /// What the server knows of one gateway.
    public struct Status: Sendable, Hashable {
        /// Gateway id.
        public var gateway: String
        /// Connected right now.
        public var online: Bool
        /// When its current (or last) connection came up, ms since 1970.
        public var connectedAt: Int64
        /// When its last connection ended, ms since 1970; nil while connected or never disconnected.
        public var disconnectedAt: Int64?
        /// Why its last connection ended.
        public var disconnectReason: String?
        /// When it last sent anything, ms since 1970.
        public var lastSeen: Int64
        /// Its last `link` report.
        public var link: LinkReport?
        /// The server instance holding its connection while online (``ClusterBus/instanceID``);
        /// nil when offline or when the registry alone answers.
        public var instance: String? = nil
    }

    private struct Entry {
        var connection: Int
        var outbound: WebSocketOutboundWriter?
        var status: Status
        var waiting: [String: CheckedContinuation<CommandResultMessage, Never>] = [:]
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let nextConnection = Atomic<Int>(0)
    private let nextCommand = Atomic<Int>(0)
    private let closing = Atomic<Bool>(false)

    /// Creates an empty registry.
    public init() {}

    /// Every gateway seen since the server started.
    public var gateways: [Status] {
        entries.withLock { $0.values.map(\.status).sorted { $0.gateway < $1.gateway } }
    }

    /// The status of one gateway, if it connected since the server started.
    public func status(of gateway: String) -> Status? {
        entries.withLock { $0[gateway]?.status }
    }

    /// Registers a new connection of `gateway`; returns its token for ``disconnected(_:token:at:reason:)``,
    /// or nil once the server is shutting down (see ``closeAll(code:reason:)``).
    func connected(_ gateway: String, outbound: WebSocketOutboundWriter, at time: Int64) -> Int? {
        guard !closing.load(ordering: .acquiring) else { return nil }
        let token = nextConnection.add(1, ordering: .relaxed).newValue
        let orphans = entries.withLock { entries -> [CheckedContinuation<CommandResultMessage, Never>] in
            let previous = entries[gateway]
            entries[gateway] = Entry(
                connection: token, outbound: outbound,
                status: Status(gateway: gateway, online: true, connectedAt: time, lastSeen: time, link: previous?.status.link)
            )
            return previous.map { Array($0.waiting.values) } ?? []
        }
        for waiter in orphans { waiter.resume(returning: Self.failed("", "", "the gateway reconnected before answering")) }
        return token
    }

    /// The connection ended; pending commands fail. Returns false when a newer connection of the
    /// same gateway had already replaced it (the gateway is still online).
    @discardableResult
    func disconnected(_ gateway: String, token: Int, at time: Int64, reason: String) -> Bool {
        let (current, orphans) = entries.withLock { entries -> (Bool, [String: CheckedContinuation<CommandResultMessage, Never>]) in
            guard var entry = entries[gateway], entry.connection == token else { return (false, [:]) }
            let waiting = entry.waiting
            entry.waiting = [:]
            entry.outbound = nil
            entry.status.online = false
            entry.status.disconnectedAt = time
            entry.status.disconnectReason = reason
            entries[gateway] = entry
            return (true, waiting)
        }
        for (id, waiter) in orphans { waiter.resume(returning: Self.failed(id, "", "the gateway disconnected before answering")) }
        return current
    }

    /// Notes that `gateway` was heard from at `time` (any message).
    func heard(from gateway: String, at time: Int64) {
        entries.withLock { $0[gateway]?.status.lastSeen = time }
    }

    func record(_ link: LinkReport, from gateway: String) {
        entries.withLock { $0[gateway]?.status.link = link }
    }

    /// Closes one gateway's connection (for example because its token was revoked).
    /// Returns false when it is not connected.
    @discardableResult
    public func close(gateway: String, code: WebSocketErrorCode, reason: String) async -> Bool {
        guard let outbound = entries.withLock({ $0[gateway]?.outbound }) else { return false }
        try? await outbound.close(code, reason: reason)
        return true
    }

    /// Refuses new gateway connections from now on and closes every open one with `code`
    /// (1001 at shutdown, so that gateways go elsewhere instead of seeing Hummingbird's 1000).
    public func closeAll(code: WebSocketErrorCode, reason: String) async {
        closing.store(true, ordering: .releasing)
        let open = entries.withLock { $0.values.compactMap(\.outbound) }
        await withTaskGroup(of: Void.self) { group in
            for outbound in open {
                group.addTask { try? await outbound.close(code, reason: reason) }
            }
        }
    }

    /// True once ``closeAll(code:reason:)`` ran.
    public var isClosing: Bool { closing.load(ordering: .acquiring) }

    func finish(_ result: CommandResultMessage, from gateway: String) {
        entries.withLock { $0[gateway]?.waiting.removeValue(forKey: result.id) }?.resume(returning: result)
    }

    /// Sends a command to a connected gateway and waits for its result (or `timeout`).
    public func send(command name: String, to device: String, on gateway: String, arguments: [String: Double], timeout: Duration = .seconds(30)) async -> CommandResultMessage {
        let id = "c-\(nextCommand.add(1, ordering: .relaxed).newValue)"
        guard let outbound = entries.withLock({ $0[gateway]?.outbound }) else {
            return Self.failed(id, device, "gateway \"\(gateway)\" is not connected")
        }
        let request = Message.command(CommandRequest(id: id, device: device, name: name, arguments: arguments))
        return await withTaskGroup(of: CommandResultMessage?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let registered = self.entries.withLock { entries -> Bool in
                        guard entries[gateway]?.outbound != nil else { return false }
                        entries[gateway]?.waiting[id] = continuation
                        return true
                    }
                    guard registered else {
                        continuation.resume(returning: Self.failed(id, device, "gateway \"\(gateway)\" is not connected"))
                        return
                    }
                    Task {
                        do {
                            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: MessageCodec.encode(request)))))
                        } catch {
                            self.finish(Self.failed(id, device, "cannot reach the gateway: \(error)"), from: gateway)
                        }
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if let first {
                group.cancelAll()
                return first
            }
            // Timed out: forget the waiter and answer for it.
            let waiter = entries.withLock { $0[gateway]?.waiting.removeValue(forKey: id) }
            let result = Self.failed(id, device, "no result from the gateway within \(timeout)")
            waiter?.resume(returning: result)
            return await group.next().flatMap { $0 } ?? result
        }
    }

    /// Asks a connected gateway to start or stop forwarding a device's raw traffic.
    public func tap(_ device: String, on gateway: String, start: Bool) async -> Bool {
        guard let outbound = entries.withLock({ $0[gateway]?.outbound }) else { return false }
        let message = start ? Message.tapStart(TapRequest(device: device)) : Message.tapStop(TapRequest(device: device))
        do {
            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: MessageCodec.encode(message)))))
            return true
        } catch {
            return false
        }
    }

    static func failed(_ id: String, _ device: String, _ why: String) -> CommandResultMessage {
        CommandResultMessage(id: id, device: device, status: .failed, message: why)
    }
}

extension GatewayRegistry {
    /// Closes the live connection of `gateway` with `code` (its token was revoked); false when it is
    /// not connected. The connection's own task then ends as for any close.
    func disconnect(_ gateway: String, code: WebSocketErrorCode, reason: String) async -> Bool {
        guard let outbound = entries.withLock({ $0[gateway]?.outbound }) else { return false }
        do {
            try await outbound.close(code, reason: reason)
        } catch {
            // Already closing or closed: the connection is going away either way.
        }
        return true
    }
}
