import Cort
import CortZeroMQ
import Foundation

/// One heartbeat to one node over a fresh DEALER, as a caller sends it
/// (docs/PROTOCOL.md: ping `[1, 5, seq]`, pong `[1, 6, seq, freeSlots, incarnation]`).
struct NodeProbe {
    /// What the node said.
    enum Answer: Sendable {
        /// It answered the ping.
        case pong(roundTrip: Duration, freeSlots: UInt32, incarnation: UInt64)
        /// It is shutting down (it said so instead of answering).
        case draining(incarnation: UInt64)
        /// Nothing came within the timeout.
        case noAnswer
        /// It could not be pinged at all (a CURVE mismatch, a bad endpoint).
        case unreachable(String)
    }

    /// The key pair to present with CURVE; nil in plaintext.
    let keys: CurveKeyPair?
    let timeout: Duration

    /// Pings `instance` on a thread of its own: the wait blocks in libzmq,
    /// which must not hold one of Swift's cooperative threads.
    func ping(_ instance: ServiceInstance) async -> Answer {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in
                do {
                    continuation.resume(returning: try pingBlocking(instance))
                } catch {
                    continuation.resume(returning: .unreachable("\(error)"))
                }
            }
        }
    }

    private func pingBlocking(_ instance: ServiceInstance) throws -> Answer {
        let published = instance.metadata[ServiceInstance.curveKeyMetadataKey] != nil
        if keys == nil, published {
            return .unreachable("the node requires CURVE (it publishes a key): "
                                + "set CORT_CURVE_SECRET_KEY_FILE or CORT_CURVE_SECRET_KEY")
        }
        if keys != nil, !published {
            return .unreachable("the node publishes no CURVE key, and CORT_CURVE_SECRET_KEY(_FILE) asks for CURVE")
        }
        let socket = try ZeroMQSocket(.dealer, context: ZeroMQContext())
        if let keys {
            guard let serverKey = instance.curvePublicKey else {
                return .unreachable("the node publishes a CURVE key that is not 40 characters of Z85")
            }
            try socket.set(.curvePublicKey, keys.publicKey)
            try socket.set(.curveSecretKey, keys.secretKey)
            try socket.set(.curveServerKey, serverKey)
        }
        try socket.connect(instance.endpoint)

        let sequence: UInt64 = 1
        var frame: [UInt8] = []
        WireCodec.encode(.ping(sequence: sequence), into: &frame)
        let clock = ContinuousClock()
        let sent = clock.now
        let deadline = sent + timeout
        // Queued at once: a DEALER takes a message for a peer it is still connecting to.
        guard try socket.trySend(ZeroMQMessage([frame])) == nil else { return .noAnswer }
        while clock.now < deadline {
            guard try socket.poll(.readable, timeout: deadline - clock.now).contains(.readable),
                  let message = try socket.tryReceive() else { continue }
            let received = clock.now
            let frames = message.copyFrames()
            guard frames.count == 1,
                  let envelope = try? frames[0].withUnsafeBytes({ try WireCodec.decode($0, limits: WireLimits()) })
            else { continue }
            switch envelope {
            case .pong(sequence, let freeSlots, let incarnation):
                return .pong(roundTrip: received - sent, freeSlots: freeSlots, incarnation: incarnation)
            case .draining(let incarnation):
                return .draining(incarnation: incarnation)
            default:
                continue
            }
        }
        return .noAnswer
    }
}
