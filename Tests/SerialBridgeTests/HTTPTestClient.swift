import SerialBridgeJSON

/// An HTTP/1.1 answer as a test sees it (the reply type of ``RawConnection``).
typealias HTTPAnswer = RawReply

extension RawReply {
    /// The body parsed as JSON (`.null` when it is not JSON, which a test then notices).
    var json: JSONNode { (try? JSONParser.parse(Array(body.utf8))) ?? .null }
}

/// One HTTP/1.1 request to 127.0.0.1 (`Connection: close`, a JSON body when given), the answer
/// read to the end. Runs off the cooperative pool.
func http(_ method: String, port: Int, _ target: String, body: String? = nil) async throws -> HTTPAnswer {
    try await offThePool {
        let connection = try RawConnection(port: port)
        var head = ["\(method) \(target) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Connection: close"]
        if let body {
            head += ["Content-Type: application/json", "Content-Length: \(body.utf8.count)"]
        }
        connection.send(head.joined(separator: "\r\n") + "\r\n\r\n" + (body ?? ""))
        let lines = try connection.readHead()
        connection.readToEnd()
        return try RawReply(head: lines, body: connection.received)
    }
}
