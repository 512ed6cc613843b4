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

    /// What came back for one envelope sent.
    enum Exchange: Sendable {
        /// The node's answer with the same sequence number (or its draining frame).
        case answered(Envelope, roundTrip: Duration)
        /// Nothing came within the timeout.
        case noAnswer
        /// The node could not be asked at all (a CURVE mismatch, a bad endpoint).
        case unreachable(String)
    }

    /// Pings `instance`.
    func ping(_ instance: ServiceInstance) async -> Answer {
        switch await ask(instance, .ping(sequence: 1)) {
        case .answered(.pong(_, let freeSlots, let incarnation), let roundTrip):
            .pong(roundTrip: roundTrip, freeSlots: freeSlots, incarnation: incarnation)
        case .answered(.draining(let incarnation), _):
            .draining(incarnation: incarnation)
        case .answered:
            .noAnswer
        case .noAnswer:
            .noAnswer
        case .unreachable(let reason):
            .unreachable(reason)
        }
    }

    /// Asks `instance` what it hosts (docs/PROTOCOL.md, `describe`).
    func describe(_ instance: ServiceInstance) async -> Result<[ServiceDescription], DescribeFailure> {
        switch await ask(instance, .describe(sequence: 1)) {
        case .answered(.description(_, let services), _):
            .success(services)
        case .answered(.failure(_, let failure), _):
            .failure(DescribeFailure("\(failure.code): \(failure.message)"))
        case .answered(.draining, _):
            .failure(DescribeFailure("the node is draining"))
        case .answered:
            .failure(DescribeFailure("the node answered something else"))
        case .noAnswer:
            .failure(DescribeFailure("no answer within \(timeout)"))
        case .unreachable(let reason):
            .failure(DescribeFailure(reason))
        }
    }

    /// Why a node could not be described.
    struct DescribeFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Sends `envelope` to `instance` and waits for the answer with its
    /// sequence number, on a thread of its own: the wait blocks in libzmq,
    /// which must not hold one of Swift's cooperative threads.
    func ask(_ instance: ServiceInstance, _ envelope: Envelope) async -> Exchange {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { [self] in
                do {
                    continuation.resume(returning: try askBlocking(instance, envelope))
                } catch {
                    continuation.resume(returning: .unreachable("\(error)"))
                }
            }
        }
    }

    private func askBlocking(_ instance: ServiceInstance, _ envelope: Envelope) throws -> Exchange {
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

        var frame: [UInt8] = []
        WireCodec.encode(envelope, into: &frame)
        let clock = ContinuousClock()
        let sent = clock.now
        let deadline = sent + timeout
        // Queued at once: a DEALER takes a message for a peer it is still connecting to.
        guard try socket.trySend(ZeroMQMessage([frame])) == nil else { return .noAnswer }
        // A description may be large: read up to what a node sends by default (4 MiB).
        let limits = WireLimits(maxMessageBytes: 4 << 20)
        while clock.now < deadline {
            guard try socket.poll(.readable, timeout: deadline - clock.now).contains(.readable),
                  let message = try socket.tryReceive() else { continue }
            let received = clock.now
            let frames = message.copyFrames()
            guard frames.count == 1,
                  let answer = try? frames[0].withUnsafeBytes({ try WireCodec.decode($0, limits: limits) })
            else { continue }
            if case .draining = answer { return .answered(answer, roundTrip: received - sent) }
            if answer.id == envelope.id { return .answered(answer, roundTrip: received - sent) }
        }
        return .noAnswer
    }
}
