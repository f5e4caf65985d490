import Hummingbird
import NIOCore
import SerialBridgeJSON

/// The responses of the auth layer: JSON errors like the API's, and redirects.
enum AuthResponse {
    /// `{"error": message}` with `status`.
    static func json(_ status: HTTPResponse.Status, error message: String, headers: HTTPFields = [:]) -> Response {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("error"); writer.string(message)
        writer.endObject()
        return json(status, String(decoding: writer.bytes, as: UTF8.self), headers: headers)
    }

    /// A JSON body.
    static func json(_ status: HTTPResponse.Status, _ body: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// 303 See Other to a local path.
    static func redirect(to location: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.location] = location
        fields[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: fields)
    }

    /// `path` if it is a path on this server (`/…`, not `//host` or `/\host`), else `/`: a login
    /// must never redirect to another site.
    static func localPath(_ path: String?) -> String {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.hasPrefix("/\\"),
              !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return "/" }
        return path
    }

    /// Percent-encodes a query value.
    static func queryValue(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out += "%" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
            }
        }
        return out
    }
}
