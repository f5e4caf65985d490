import SerialBridgeJSON

/// What `serialbridge-server tokens add|list|revoke|migrate` do to a token file. The CLI only
/// parses arguments and prints; these functions are the behaviour (and what the tests call).
public enum GatewayTokenCommands {
    /// Token prefix: makes a leaked token recognisable to people and secret scanners.
    public static let tokenPrefix = "sbg_"

    /// Issues a new random token for `gateway` and stores its hash (the file is created if missing).
    ///
    /// A gateway may hold several tokens (issue the new one, deploy it, revoke the old one).
    /// - Parameter now: the creation time, seconds since 1970 (default: the real-time clock).
    /// - Returns: the token, which exists nowhere else afterwards: print it once.
    /// - Throws: ``ServerConfigError`` for a bad gateway id or a file that cannot be read or written.
    public static func add(gateway: String, file: String, now: Int64? = nil) throws(ServerConfigError) -> (token: String, entry: GatewayTokenFile.Entry) {
        if let problem = GatewayTokenFile.problem(gatewayID: gateway) { throw ServerConfigError(problem) }
        var tokens = try GatewayTokenFile.parse(SecretFile.readIfPresent(file), file: file, allowPlaintext: true)
        // 256 random bits: see TokenStore for why a plain SHA-256 is the right hash for them.
        let token = Secret.random(prefix: tokenPrefix)
        let entry = GatewayTokenFile.Entry(
            gateway: gateway, hash: Secret.sha256(token), created: UTCTime.format(secondsSince1970: now ?? UTCTime.nowSeconds()), revoked: nil
        )
        tokens.append(entry)
        try SecretFile.replace(file, with: tokens.rendered())
        return (token, entry)
    }

    /// Every token in the file (hashes only), revoked ones included.
    public static func list(file: String) throws(ServerConfigError) -> [GatewayTokenFile.Entry] {
        try GatewayTokenFile.parse(readExisting(file), file: file).entries
    }

    /// Revokes the tokens of `gateway` (only the one whose fingerprint starts with `fingerprint`,
    /// when given). The server refuses them at the next connect and closes a connection made with one.
    /// - Returns: the entries just revoked.
    /// - Throws: ``ServerConfigError`` when the gateway has no such token, or all of them are
    ///   already revoked.
    public static func revoke(
        gateway: String, fingerprint: String? = nil, file: String, now: Int64? = nil
    ) throws(ServerConfigError) -> [GatewayTokenFile.Entry] {
        var tokens = try GatewayTokenFile.parse(readExisting(file), file: file, allowPlaintext: true)
        let candidates = tokens.entries.filter { $0.gateway == gateway }
        guard !candidates.isEmpty else {
            let known = Set(tokens.entries.map(\.gateway)).sorted()
            throw ServerConfigError(
                "\(file): no token for gateway \"\(gateway)\"" + (known.isEmpty ? " (the file has none)" : "; gateways with tokens: \(known.joined(separator: ", "))")
            )
        }
        let wanted = fingerprint?.lowercased()
        if let wanted, !candidates.contains(where: { $0.fingerprint.hasPrefix(wanted) || Secret.hex($0.hash).hasPrefix(wanted) }) {
            throw ServerConfigError("\(file): gateway \"\(gateway)\" has no token with fingerprint \(wanted) (see `tokens list`)")
        }
        let revoked = tokens.revoke(
            where: { entry in entry.gateway == gateway && wanted.map { Secret.hex(entry.hash).hasPrefix($0) } != false },
            at: UTCTime.format(secondsSince1970: now ?? UTCTime.nowSeconds())
        )
        guard !revoked.isEmpty else { throw ServerConfigError("\(file): the token(s) of gateway \"\(gateway)\" are already revoked") }
        try SecretFile.replace(file, with: tokens.rendered())
        return revoked
    }

    /// Rewrites the plaintext `GATEWAY TOKEN` lines of the old format as hashes, so gateways keep
    /// their tokens.
    /// - Returns: the gateways whose lines were converted.
    /// - Throws: ``ServerConfigError`` for a plaintext token under 32 characters (too weak to keep:
    ///   issue a new one) or a file that cannot be read or written.
    public static func migrate(file: String, now: Int64? = nil) throws(ServerConfigError) -> [String] {
        var tokens = try GatewayTokenFile.parse(readExisting(file), file: file, allowPlaintext: true)
        var converted: [String] = []
        for index in tokens.lines.indices {
            guard case .plaintext(let gateway, let token, let number) = tokens.lines[index] else { continue }
            guard token.utf8.count >= 32 else {
                throw ServerConfigError(
                    "\(file):\(number): the plaintext token of gateway \"\(gateway)\" has fewer than 32 characters, too guessable to keep; "
                        + "issue a new one with `serialbridge-server tokens add \(gateway) --tokens \(file)` and delete this line"
                )
            }
            tokens.lines[index] = .entry(.init(
                gateway: gateway, hash: Secret.sha256(token), created: UTCTime.format(secondsSince1970: now ?? UTCTime.nowSeconds()), revoked: nil
            ))
            converted.append(gateway)
        }
        if !converted.isEmpty { try SecretFile.replace(file, with: tokens.rendered()) }
        return converted
    }

    private static func readExisting(_ file: String) throws(ServerConfigError) -> String {
        do {
            return String(decoding: try FileContents.read(file), as: UTF8.self)
        } catch {
            throw ServerConfigError("\(file): cannot read token file: \(error)")
        }
    }
}
