import CortZeroMQ
import Distributed
import Foundation
import Testing
@testable import Cort

/// A CURVE node against raw ZeroMQ DEALER sockets (docs/PROTOCOL.md spoken
/// by hand, each in a ZeroMQ context of its own): a stranger's key and a
/// plaintext peer get no session at all (no answer, not even to a ping, and
/// nothing they send reaches the node), while an allowed key is served.
@Suite(.timeLimit(.minutes(2))) struct CurveRawSocketTests {
    static let service = "curve-raw-target"
    /// How long a refused peer listens for an answer that must not come.
    static let silence = Duration.milliseconds(1500)
    /// How long a handshake may take on a loaded machine (the wait ends at the event).
    static let patience = Duration.seconds(30)

    /// A CURVE node that allows `allowed`, hosting ``CurveRawTarget``; shut down at the end.
    static func withCurveNode<R>(
        allowing allowed: CurveKeyPair,
        _ body: (_ node: CortSystem, _ endpoint: String, _ nodeKeys: CurveKeyPair) async throws -> R
    ) async throws -> R {
        let nodeKeys = try CurveKeyPair.generate()
        let node = try CortSystem.start(.init(
            name: "curve-raw-node", discovery: LocalDiscovery(), endpoint: "tcp://127.0.0.1:0",
            security: .curve(keyPair: nodeKeys, allowedCallers: CallerAllowList([allowed.publicKey]))))
        do {
            try await node.host(service, replicas: 1) { CurveRawTarget(actorSystem: $0) }
            let result = try await body(node, try #require(node.endpoint), nodeKeys)
            await node.shutdown()
            return result
        } catch {
            await node.shutdown()
            throw error
        }
    }

    /// A request of `touch(key)`, as a real caller encodes it.
    static func touchRequest(_ key: String, id: UInt64) async throws -> [UInt8] {
        let template = try await CapturedRequests.request(CurveRawTarget.self) { _ = try await $0.touch(key) }
        return HostilePeerTests.request(template, id: id, service: service)
    }

    /// An allowed raw client's ping gets its pong: the node serves while the others are refused.
    static func expectPong(at endpoint: String, keys: CurveKeyPair, nodeKeys: CurveKeyPair,
                           sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let dealer = try HandshakeWatchingDealer(curve: (keys, nodeKeys.publicKey))
        defer { dealer.close() }
        try dealer.connect(endpoint)
        try dealer.send(.ping(sequence: 42))
        let answer = try await dealer.receive(within: patience)
        guard case .pong(let sequence, _, _)? = answer else {
            Issue.record("an allowed caller's ping got \(String(describing: answer))", sourceLocation: sourceLocation)
            return
        }
        #expect(sequence == 42, sourceLocation: sourceLocation)
    }

    @Test func aClientWithAKeyNotInTheAllowListGetsNoSessionAndReachesNothing() async throws {
        let allowed = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let key = "curve-raw-stranger-\(UUID().uuidString)"
        let request = try await Self.touchRequest(key, id: 1)
        try await Self.withCurveNode(allowing: allowed) { node, endpoint, nodeKeys in
            let refusedBefore = await node.authenticator?.counters.refused ?? -1
            let dealer = try HandshakeWatchingDealer(curve: (stranger, nodeKeys.publicKey))
            defer { dealer.close() }
            try dealer.connect(endpoint)
            // Queued on the connection: they would leave once the handshake is done.
            try dealer.send(.ping(sequence: 1))
            try dealer.send(request)
            let event = try await dealer.nextHandshakeEvent(within: Self.patience)
            #expect(event?.event == .handshakeFailedAuth, "the node refused the key: \(String(describing: event))")
            #expect(event?.value == 400, "ZAP's status for a refused client")
            // The ZAP handler counts a refusal before it answers libzmq.
            let refused = await node.authenticator?.counters.refused ?? -1
            #expect(refused > refusedBefore, "the ZAP handler refused it (\(refusedBefore) → \(refused))")

            let answer = try await dealer.receive(within: Self.silence)
            #expect(answer == nil, "a stranger got \(String(describing: answer))")
            #expect(Observations.shared.events(key).isEmpty, "the method ran for a stranger")
            let counters = try await node.nodeCounters()
            #expect(counters.requests == 0, "a stranger's frames reached the node: \(counters)")
            #expect(counters.unauthenticated == 0, "\(counters)")
            try await Self.expectPong(at: endpoint, keys: allowed, nodeKeys: nodeKeys)
        }
    }

    @Test func aPlaintextClientGetsNoSessionAndReachesNothing() async throws {
        let allowed = try CurveKeyPair.generate()
        let key = "curve-raw-plaintext-\(UUID().uuidString)"
        let request = try await Self.touchRequest(key, id: 1)
        try await Self.withCurveNode(allowing: allowed) { node, endpoint, nodeKeys in
            let dealer = try HandshakeWatchingDealer(curve: nil)
            defer { dealer.close() }
            try dealer.connect(endpoint)
            try dealer.send(.ping(sequence: 1))
            try dealer.send(request)
            // The greetings name different mechanisms (NULL, CURVE): no session.
            let event = try await dealer.nextHandshakeEvent(within: Self.patience)
            #expect(event != nil && event?.event != .handshakeSucceeded,
                    "the handshake failed: \(String(describing: event))")

            let answer = try await dealer.receive(within: Self.silence)
            #expect(answer == nil, "a plaintext peer got \(String(describing: answer))")
            #expect(Observations.shared.events(key).isEmpty, "the method ran for a plaintext peer")
            let counters = try await node.nodeCounters()
            #expect(counters.requests == 0, "a plaintext peer's frames reached the node: \(counters)")
            try await Self.expectPong(at: endpoint, keys: allowed, nodeKeys: nodeKeys)
        }
    }

    /// The control: the same raw client, with an allowed key, is served.
    @Test func aClientWithAnAllowedKeyGetsAPongAndItsCallRuns() async throws {
        let allowed = try CurveKeyPair.generate()
        let key = "curve-raw-allowed-\(UUID().uuidString)"
        let request = try await Self.touchRequest(key, id: 7)
        try await Self.withCurveNode(allowing: allowed) { node, endpoint, nodeKeys in
            let dealer = try HandshakeWatchingDealer(curve: (allowed, nodeKeys.publicKey))
            defer { dealer.close() }
            try dealer.connect(endpoint)
            try dealer.send(.ping(sequence: 5))
            let event = try await dealer.nextHandshakeEvent(within: Self.patience)
            #expect(event?.event == .handshakeSucceeded, "\(String(describing: event))")
            let pong = try await dealer.receive(within: Self.patience)
            guard case .pong(let sequence, let freeSlots, _)? = pong else {
                Issue.record("the ping got \(String(describing: pong))")
                return
            }
            #expect(sequence == 5)
            #expect(freeSlots > 0)

            try dealer.send(request)
            let reply = try await dealer.receive(within: Self.patience)
            guard case .reply(let id, let result?)? = reply else {
                Issue.record("the request got \(String(describing: reply))")
                return
            }
            #expect(id == 7)
            #expect(result.contains(subsequence: key), "the reply carries the method's answer")
            #expect(Observations.shared.events(key) == ["ran"])
            #expect((await node.authenticator?.counters.allowed ?? 0) >= 1)
            let counters = try await node.nodeCounters()
            #expect(counters.requests == 1, "\(counters)")
        }
    }
}

/// The service the raw clients try to call: each run is recorded under its key.
distributed actor CurveRawTarget {
    typealias ActorSystem = CortSystem

    distributed func touch(_ key: String) -> String {
        Observations.shared.record(key, "ran")
        return "touched \(key)"
    }
}

/// A raw DEALER in a ZeroMQ context of its own, a CURVE client when given
/// keys, with a monitor of its handshakes. Blocking waits run on a thread of
/// their own, never on Swift's cooperative pool.
final class HandshakeWatchingDealer: @unchecked Sendable {
    // @unchecked: the sockets are used by one thread at a time (the test's,
    // or the one thread `onOwnThread` starts while the test awaits it), and
    // `close()` is called when nothing else uses them.
    private let context: ZeroMQContext
    private var socket: ZeroMQSocket?
    private var events: ZeroMQSocket?

    /// - Parameter curve: this client's keys and the server key it expects, or nil for plaintext.
    init(curve: (keys: CurveKeyPair, serverKey: CurveKey)?) throws {
        context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.dealer, context: context)
        if let curve {
            try socket.set(.curvePublicKey, curve.keys.publicKey)
            try socket.set(.curveSecretKey, curve.keys.secretKey)
            try socket.set(.curveServerKey, curve.serverKey)
        }
        let endpoint = "inproc://handshake-watching-dealer-\(UInt64.random(in: 0...UInt64.max))"
        try socket.monitor(endpoint, events: [.handshakeSucceeded, .handshakeFailed])
        let events = try ZeroMQSocket(.pair, context: context)
        try events.set(.receiveHighWaterMark, 0)
        try events.connect(endpoint)
        self.socket = socket
        self.events = events
    }

    func connect(_ endpoint: String) throws {
        try socket?.connect(endpoint)
    }

    /// Queues `envelope` on the connection (its pipe exists from `connect` on).
    func send(_ envelope: Envelope) throws {
        try send(RawCaller.encode(envelope))
    }

    func send(_ frame: [UInt8]) throws {
        guard let socket else { return }
        if try socket.trySend(ZeroMQMessage([frame])) != nil {
            throw RelayError("zmq_send (the pipe is full)", EAGAIN)
        }
    }

    /// The next envelope within `timeout`, or nil.
    func receive(within timeout: Duration) async throws -> Envelope? {
        let frames = try await onOwnThread { [self] () -> [[UInt8]]? in
            guard let socket = self.socket, try socket.poll(.readable, timeout: timeout).contains(.readable) else {
                return nil
            }
            return try socket.tryReceive()?.copyFrames()
        }
        guard let frames, frames.count == 1 else { return nil }
        return try frames[0].withUnsafeBytes { try WireCodec.decode($0, limits: WireLimits()) }
    }

    /// The next handshake event of the connection (succeeded or failed) within `timeout`, or nil.
    func nextHandshakeEvent(within timeout: Duration) async throws -> MonitorEvent? {
        try await onOwnThread { [self] () -> MonitorEvent? in
            guard let events = self.events, try events.poll(.readable, timeout: timeout).contains(.readable),
                  let message = try events.tryReceive() else {
                return nil
            }
            return try MonitorEvent(message)
        }
    }

    /// Closes the sockets at once (no linger).
    func close() {
        try? socket?.stopMonitoring()
        events = nil
        socket = nil
    }
}
