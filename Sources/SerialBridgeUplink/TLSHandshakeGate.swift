import NIOCore
import NIOSSL
import NIOTLS

/// The certificates BoringSSL's own verification walked, as pins: NIOSSL calls
/// ``record(_:_:)`` once per certificate of the chain it built, trust anchor first, leaf last,
/// with BoringSSL's verdict, which is passed through unchanged. Lives on one event loop.
final class VerifiedChainRecorder {
    /// Pins of the verified chain, trust anchor first.
    private(set) var pins: [SPKIPin] = []
    /// True once BoringSSL rejected some certificate.
    private(set) var rejected = false

    /// The per-certificate callback: records, never changes the verdict.
    func record(_ result: NIOSSLVerificationResult, _ certificate: NIOSSLCertificate) -> NIOSSLVerificationResult {
        if result == .failed {
            rejected = true
        } else if let pin = try? SPKIPin(of: certificate), !pins.contains(pin) {
            pins.append(pin)
        }
        return result
    }
}

/// NIOSSL deprecates the per-certificate verification callback in favour of one that replaces
/// BoringSSL's verification altogether. The uplink wants BoringSSL's verification (trust roots,
/// validity, host name) kept and the pin check added on top, so it uses the per-certificate form,
/// through a protocol witness so that the deprecation does not warn on every build.
private protocol ChainRecordingClientHandlerMaker {
    static func make(context: NIOSSLContext, serverHostname: String?, recorder: VerifiedChainRecorder) throws -> NIOSSLClientHandler
}

private enum ChainRecordingClientHandler: ChainRecordingClientHandlerMaker {
    @available(*, deprecated, message: "uses NIOSSL's per-certificate verification callback on purpose")
    static func make(context: NIOSSLContext, serverHostname: String?, recorder: VerifiedChainRecorder) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverHostname, verificationCallback: recorder.record)
    }
}

/// Holds a new connection until its TLS handshake is done and the pins are checked, so not a byte
/// of HTTP (nor the bearer token) is written to a server that failed either. Succeeds `ready` and
/// removes itself, or fails it with an ``UplinkConnectError`` and closes the channel.
final class TLSHandshakeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let recorder: VerifiedChainRecorder
    private let tls: UplinkTLS
    private let expectedName: String
    private let ready: EventLoopPromise<Void>
    private var settled = false

    /// Adds the TLS client handler and the gate to `channel` (on its event loop).
    /// - Parameter host: the host dialled (the URL's), for SNI and host-name verification.
    static func install(on channel: any Channel, tls: UplinkTLS, host: String) throws -> EventLoopFuture<Void> {
        let recorder = VerifiedChainRecorder()
        let name = tls.serverHostname(for: host)
        let maker: any ChainRecordingClientHandlerMaker.Type = ChainRecordingClientHandler.self
        let handler = try maker.make(context: tls.context, serverHostname: name, recorder: recorder)
        let ready = channel.eventLoop.makePromise(of: Void.self)
        let gate = TLSHandshakeGate(recorder: recorder, tls: tls, expectedName: name ?? host, ready: ready)
        try channel.pipeline.syncOperations.addHandlers([handler, gate])
        return ready.futureResult
    }

    private init(recorder: VerifiedChainRecorder, tls: UplinkTLS, expectedName: String, ready: EventLoopPromise<Void>) {
        self.recorder = recorder
        self.tls = tls
        self.expectedName = expectedName
        self.ready = ready
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .handshakeCompleted? = event as? TLSUserEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if SPKIPin.chain(recorder.pins, satisfies: tls.pins) {
            settled = true
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            ready.succeed()
        } else {
            fail(.noPinnedKey(chain: recorder.pins.reversed()), context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(describe(error), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.tls(detail: "the server closed the connection during the TLS handshake"), context: context)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if !settled {
            settled = true
            ready.fail(UplinkConnectError.tls(detail: "connection set-up abandoned"))
        }
    }

    private func fail(_ error: UplinkConnectError, context: ChannelHandlerContext) {
        guard !settled else { return }
        settled = true
        ready.fail(error)
        context.close(promise: nil)
    }

    private func describe(_ error: any Error) -> UplinkConnectError {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return .wrongHost(expected: expectedName)
        }
        if recorder.rejected {
            return .untrusted(trust: trustDescription, detail: UplinkConnectError.shortReason("\(error)"))
        }
        return UplinkConnectError.classifyTLS(error) ?? .tls(detail: "\(error)")
    }

    private var trustDescription: String {
        switch (tls.settings.caFile, tls.settings.systemTrustStore) {
        case (let file?, true): "the system trust store and \(file)"
        case (let file?, false): file
        case (nil, _): "the system trust store"
        }
    }
}
