import HummingbirdWebSocket
import SerialBridgeJSON

extension ServerApplication {
    /// Serves one dashboard WebSocket until either side goes away: pushes the feed's updates and
    /// reads the dashboard's `subscribe` requests (docs/API.md, "Live updates").
    static func serveLive(feed: LiveFeed, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let subscription = feed.subscribe()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Reading the inbound side also processes pings and notices the browser leaving.
                do {
                    for try await message in inbound.messages(maxSize: 64 << 10) {
                        guard case .text(let text) = message else { continue }
                        switch LiveRequest.parse(text) {
                        case .subscribe(let topics): feed.subscribe(subscription.id, to: topics)
                        case .invalid(let why): try await outbound.write(.text(LiveRequest.error(why)))
                        }
                    }
                } catch {}
            }
            group.addTask {
                for await update in subscription.updates {
                    do { try await outbound.write(.text(update)) } catch { return }
                }
                // The feed ended: the server is shutting down.
                try? await outbound.close(.goingAway, reason: "shutting-down")
            }
            await group.next()
            group.cancelAll()
        }
    }
}

/// What a dashboard may send on the live WebSocket.
enum LiveRequest: Equatable {
    /// `{"type":"subscribe","devices":["*" | "GATEWAY:*" | "GATEWAY:DEVICE", …]}`: replaces the set.
    case subscribe(LiveTopics)
    /// Anything else, with the reason.
    case invalid(String)

    static func parse(_ text: String) -> LiveRequest {
        let node: JSONNode
        do {
            node = try JSONParser.parse(Array(text.utf8))
        } catch {
            return .invalid("invalid JSON: \(error)")
        }
        guard case .string("subscribe")? = node["type"] else { return .invalid("expected {\"type\":\"subscribe\",\"devices\":[…]}") }
        guard case .array(let items)? = node["devices"] else { return .invalid("subscribe.devices must be an array of device ids") }
        var topics: [String] = []
        for item in items {
            guard case .string(let topic) = item else { return .invalid("subscribe.devices must hold strings") }
            topics.append(topic)
        }
        return .subscribe(LiveTopics(topics))
    }

    static func error(_ why: String) -> String {
        var writer = JSONWriter(capacity: 64)
        writer.beginObject()
        writer.key("type"); writer.string("error")
        writer.key("message"); writer.string(why)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
