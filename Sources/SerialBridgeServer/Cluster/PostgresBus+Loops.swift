import Logging
import PostgresNIO
import SerialBridgeProtocol

extension PostgresBus {
    /// Keeps a LISTEN connection up: reconnects with a doubling delay after any loss, and hands
    /// every notification to ``received(_:on:)`` in order.
    func listen() async {
        var delay = options.reconnectDelay.lowerBound
        var attempt = 0
        var configuration = options.connection
        configuration.options.additionalStartupParameters.append(("application_name", "serialbridge-listen-\(instanceID)"))
        while !Task.isCancelled {
            attempt += 1
            var connection: PostgresConnection?
            do {
                let open = try await PostgresConnection.connect(configuration: configuration, id: attempt, logger: logger)
                connection = open
                try await open.listen(on: ClusterSchema.channel) { notifications in
                    setListening(true)
                    delay = options.reconnectDelay.lowerBound
                    logger.info("listening for other instances on channel \(ClusterSchema.channel)")
                    for try await notification in notifications {
                        await received(notification.payload, on: open)
                    }
                }
            } catch {
                if !Task.isCancelled {
                    logger.warning("the bus's LISTEN connection failed or was lost: \(error); reconnecting in \(delay)")
                }
            }
            setListening(false)
            if let connection { try? await connection.close() }
            do { try await Task.sleep(for: delay) } catch { break }
            delay = min(delay * 2, options.reconnectDelay.upperBound)
        }
    }

    /// Decodes one payload and acts on it; a bad payload is logged and skipped.
    func received(_ payload: String, on connection: PostgresConnection) async {
        var envelope: BusMessage.Envelope
        do {
            envelope = try BusMessage.Envelope.decode(payload)
        } catch {
            logger.warning("ignoring an unreadable bus message: \(error)")
            return
        }
        // Every instance hears its own NOTIFYs too; and requests are for one instance only.
        guard envelope.from != instanceID, envelope.to == nil || envelope.to == instanceID else { return }
        if case .stored(let id) = envelope.message {
            do {
                let rows = try await connection.query("SELECT payload FROM cluster_messages WHERE id = \(id)", logger: logger).collect()
                guard let text = try rows.first?.decode(String.self) else {
                    logger.warning("bus message \(id) from \(envelope.from) is no longer stored; skipped")
                    return
                }
                envelope = try BusMessage.Envelope.decode(text)
            } catch {
                logger.warning("cannot read stored bus message \(id) from \(envelope.from): \(error)")
                return
            }
            if case .stored = envelope.message { return }
        }
        switch envelope.message {
        case .live(let items):
            for item in items { feed.publish(device: item.device, item.text) }
        case .result(let request, _), .tapped(let request, _):
            waiters.deliver(request, envelope.message)
        case .command, .tap:
            enqueueRequest(envelope)
        case .stored:
            break
        }
    }

    /// Carries out commands and taps other instances send for gateways connected here, each in a
    /// task of its own (a command may wait for its device for many seconds).
    func serveRequests() async {
        await withDiscardingTaskGroup { group in
            for await envelope in requestStream {
                group.addTask { await self.serve(envelope) }
            }
        }
    }

    private func serve(_ envelope: BusMessage.Envelope) async {
        let answer: BusMessage
        switch envelope.message {
        case .command(let request, let gateway, let command, let timeoutMs):
            logger.info("command \(command.name) for \(gateway):\(command.device) from instance \(envelope.from)")
            var result = await registry.send(
                command: command.name, to: command.device, on: gateway, arguments: command.arguments, timeout: .milliseconds(timeoutMs)
            )
            result.id = request
            answer = .result(request: request, result)
        case .tap(let request, let gateway, let device, let start):
            logger.info("raw tap \(start ? "start" : "stop") for \(gateway):\(device) from instance \(envelope.from)")
            let ok = await registry.tap(device, on: gateway, start: start)
            if ok { noteRemoteTap(RemoteTap(gateway: gateway, device: device), for: envelope.from, on: start) }
            answer = .tapped(request: request, ok: ok)
        default:
            return
        }
        _ = await trySend(BusMessage.Envelope(from: instanceID, to: envelope.from, message: answer))
    }

    /// Sends queued live updates, as few payloads as fit; while the database is away it waits
    /// with a doubling delay and the queue keeps only the newest updates.
    func sendQueued() async {
        var delay = options.reconnectDelay.lowerBound
        for await _ in outgoingSignalStream {
            let items = takeQueued()
            var failed: (any Error)?
            for packet in BusPacker.pack(live: items, from: instanceID) {
                do {
                    try await transmit(packet, to: nil)
                } catch {
                    failed = error
                    break
                }
            }
            guard let failed else {
                delay = options.reconnectDelay.lowerBound
                continue
            }
            logger.warning("cannot send live updates to other instances (dropped; retrying in \(delay)): \(failed)")
            noteDropped(items.count)
            do { try await Task.sleep(for: delay) } catch { break }
            delay = min(delay * 2, options.reconnectDelay.upperBound)
        }
    }

    /// Sends one request or answer; false (logged) when it could not be sent.
    func trySend(_ envelope: BusMessage.Envelope) async -> Bool {
        do {
            try await transmit(BusPacker.pack(envelope), to: envelope.to)
            return true
        } catch {
            logger.warning("cannot send a bus message to \(envelope.to ?? "every instance"): \(error)")
            return false
        }
    }

    /// NOTIFYs a payload, or stores it and NOTIFYs its row id.
    func transmit(_ packet: BusPacker.Packet, to addressee: String?) async throws {
        switch packet {
        case .notify(let text):
            _ = try await writer.query("SELECT pg_notify(\(ClusterSchema.channel), \(text))")
        case .store(let text):
            let rows = try await writer.query("INSERT INTO cluster_messages (payload) VALUES (\(text)) RETURNING id")
            guard let id = try rows.first?.decode(Int64.self) else { throw BusMessageError("INSERT … RETURNING id gave no row") }
            let reference = BusMessage.Envelope(from: instanceID, to: addressee, message: .stored(id: id)).encoded()
            _ = try await writer.query("SELECT pg_notify(\(ClusterSchema.channel), \(reference))")
        }
    }

    /// Writes connects and disconnects of gateways here to `cluster_gateways`, in order. A failed
    /// write is logged and left to the heartbeat, which re-asserts the gateways held here and
    /// removes this instance's rows of gateways it no longer holds.
    func recordPresence() async {
        for await change in presenceStream {
            defer { if case .connected(_, _, _, let written) = change { written.finish() } }
            do {
                switch change {
                case .connected(let gateway, let connection, let at, _):
                    _ = try await writer.query("""
                        INSERT INTO cluster_gateways (gateway, instance, connection, connected_at)
                        VALUES (\(gateway), \(instanceID), \(connection), \(at))
                        ON CONFLICT (gateway) DO UPDATE SET
                            instance = excluded.instance, connection = excluded.connection, connected_at = excluded.connected_at
                        """)
                case .disconnected(let gateway, let connection):
                    _ = try await writer.query("""
                        DELETE FROM cluster_gateways WHERE gateway = \(gateway) AND instance = \(instanceID) AND connection = \(connection)
                        """)
                case .reassert:
                    // Here, in order with the connects and disconnects: a snapshot taken by the
                    // heartbeat could predate a connect written meanwhile, and delete its row.
                    let mine = heldGateways()
                    _ = try await writer.query("""
                        DELETE FROM cluster_gateways WHERE instance = \(instanceID) AND NOT (gateway = ANY(\(mine.map(\.gateway))::text[]))
                        """)
                    if !mine.isEmpty {
                        _ = try await writer.query("""
                            INSERT INTO cluster_gateways (gateway, instance, connection, connected_at)
                            SELECT g, \(instanceID), c, t FROM unnest(\(mine.map(\.gateway))::text[], \(mine.map(\.connection))::bigint[], \(mine.map(\.at))::bigint[]) AS x(g, c, t)
                            ON CONFLICT (gateway) DO NOTHING
                            """)
                    }
                }
            } catch {
                logger.warning("cannot record \(change.summary) in the cluster tables (the next heartbeat does): \(error)")
            }
        }
    }

    /// Every `heartbeat`: renews this instance's row, re-asserts its gateways and drops its rows of
    /// gateways gone from here (a write lost to a database outage is redone), removes expired instances and their gateways (each announced
    /// offline by the one instance whose DELETE took it), and old stored messages.
    func beat() async {
        while !Task.isCancelled {
            do {
                _ = try await writer.query("""
                    INSERT INTO cluster_instances (id) VALUES (\(instanceID))
                    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
                    """)
                requestReassert()
                let lost = try await writer.query("""
                    WITH dead AS (
                        DELETE FROM cluster_instances WHERE heartbeat_at < now() - make_interval(secs => \(Self.seconds(options.expiry))) RETURNING id
                    )
                    DELETE FROM cluster_gateways g USING dead WHERE g.instance = dead.id RETURNING g.gateway, g.instance
                    """)
                for row in lost {
                    let (gateway, instance) = try row.decode((String, String).self)
                    let reason = "instance \(instance) stopped answering"
                    logger.warning("gateway \(gateway) is offline: \(reason)")
                    let at = Timestamp.nowMilliseconds()
                    publish(device: nil, LiveMessage.gateway(gateway, online: false, at: at, reason: reason))
                    await onGatewayLost(gateway, at, reason)
                }
                _ = try await writer.query("DELETE FROM cluster_messages WHERE created_at < now() - interval '5 minutes'")
                try await stopOrphanedTaps()
            } catch {
                logger.warning("cluster heartbeat failed (retrying in \(options.heartbeat)): \(error)")
            }
            do { try await Task.sleep(for: options.heartbeat) } catch { break }
        }
    }

    /// Stops the raw taps other instances started here whose instance is gone (stopped, or
    /// expired): nobody would stop them, and their bytes would cross the bus for nothing.
    private func stopOrphanedTaps() async throws {
        let taps = remoteTapRequesters()
        guard !taps.isEmpty else { return }
        let requesters = Array(Set(taps.values))
        let rows = try await writer.query("""
            SELECT id FROM cluster_instances
            WHERE id = ANY(\(requesters)::text[]) AND heartbeat_at >= now() - make_interval(secs => \(Self.seconds(options.expiry)))
            """)
        let alive = Set(try rows.map { try $0.decode(String.self) })
        for (tap, instance) in taps where !alive.contains(instance) {
            noteRemoteTap(tap, for: instance, on: false)
            _ = await registry.tap(tap.device, on: tap.gateway, start: false)
            logger.info("stopped the raw tap of \(tap.gateway):\(tap.device): instance \(instance), which started it, is gone")
        }
    }
}
