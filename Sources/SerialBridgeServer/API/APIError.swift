import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SerialBridgeJSON

/// A request the API refuses, with the status and the message the client gets as
/// `{"error": "…"}`.
public struct APIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// HTTP status.
    public var status: HTTPResponse.Status
    /// What was wrong, naming the parameter or id.
    public var message: String

    /// Creates an error.
    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// 400 with `message`.
    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }

    /// 404 with `message`.
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }

    public var description: String { "\(status.code) \(message)" }
}

/// JSON responses of the API.
enum APIResponse {
    /// A JSON response with a body already encoded.
    static func json(_ status: HTTPResponse.Status = .ok, _ body: [UInt8]) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    /// `{"error": message}` with `status`.
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var writer = JSONWriter(capacity: 64 + message.utf8.count)
        writer.beginObject()
        writer.key("error"); writer.string(message)
        writer.endObject()
        return json(status, writer.bytes)
    }

    /// Runs a handler; an ``APIError`` becomes its JSON error, anything else a 500 that names the
    /// failure (the storage's error, say) and is logged.
    static func answer(_ logger: Logger, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as APIError {
            return self.error(error.status, error.message)
        } catch {
            logger.error("API request failed: \(error)")
            return self.error(.internalServerError, "internal error: \(error)")
        }
    }
}
