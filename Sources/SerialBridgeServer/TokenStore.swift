import SerialBridgeJSON

/// Gateway tokens, from a file of `GATEWAY-ID TOKEN` lines (`#` starts a comment).
///
/// A token authenticates exactly one gateway id: a gateway cannot speak for another.
public struct TokenStore: Sendable {
    private let gatewayByToken: [String: String]

    /// Creates a store from `(gateway, token)` pairs.
    public init(_ pairs: [(gateway: String, token: String)]) {
        gatewayByToken = Dictionary(pairs.map { ($0.token, $0.gateway) }, uniquingKeysWith: { first, _ in first })
    }

    /// Loads a token file.
    /// - Throws: ``ServerConfigError`` naming the file and line of a malformed entry.
    public static func load(file: String) throws(ServerConfigError) -> TokenStore {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(file)
        } catch {
            throw ServerConfigError("\(file): cannot read token file: \(error)")
        }
        var pairs: [(String, String)] = []
        for (number, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            guard words.count == 2, words[1].utf8.count >= 16 else {
                throw ServerConfigError("\(file):\(number + 1): expected `GATEWAY-ID TOKEN` with a token of at least 16 characters")
            }
            pairs.append((String(words[0]), String(words[1])))
        }
        if pairs.isEmpty { throw ServerConfigError("\(file): no tokens; add a line `GATEWAY-ID TOKEN`") }
        return TokenStore(pairs.map { (gateway: $0.0, token: $0.1) })
    }

    /// The outcome of checking an `Authorization` header.
    public enum Verdict: Sendable, Equatable {
        case accepted(gateway: String)
        case refused(reason: String)
    }

    /// Checks an `Authorization: Bearer TOKEN` header value.
    public func check(authorization: String?) -> Verdict {
        guard let authorization, !authorization.isEmpty else { return .refused(reason: "missing Authorization header") }
        guard authorization.hasPrefix("Bearer ") else { return .refused(reason: "Authorization header is not a Bearer token") }
        let token = authorization.dropFirst("Bearer ".count).trimmingPrefix(while: { $0 == " " })
        // Compare every known token in full so timing does not reveal a matching prefix.
        var match: String?
        for (candidate, gateway) in gatewayByToken where Self.constantTimeEquals(candidate, token) {
            match = gateway
        }
        return match.map { .accepted(gateway: $0) } ?? .refused(reason: "unknown token")
    }

    static func constantTimeEquals(_ a: String, _ b: some StringProtocol) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: left.count ^ right.count)
        for index in 0..<max(left.count, right.count) {
            difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
        }
        return difference == 0
    }
}

extension Substring {
    func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        var slice = self
        while let first = slice.first, predicate(first) { slice = slice.dropFirst() }
        return slice
    }
}

/// A server setting or file is wrong.
public struct ServerConfigError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, with file and line where known.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
