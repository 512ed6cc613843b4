import CortZeroMQ
import Foundation
import Distributed
import Synchronization
import Testing
@testable import Cort

/// A caller that is a plain DEALER socket speaking docs/PROTOCOL.md by hand,
/// for driving a node the way a hostile or broken peer would. Blocking
/// waits run on a thread of their own, never on Swift's cooperative pool.
final class RawCaller: @unchecked Sendable {
    // @unchecked: the socket is used by one thread at a time (the test's, or
    // the one thread `onOwnThread` starts while the test awaits it), and
    // `close()` is called when nothing else uses it.
    private let context: ZeroMQContext
    private var socket: ZeroMQSocket?

    init(routingID: String? = nil, receiveHighWaterMark: Int32? = nil) throws {
        context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.dealer, context: context)
        if let routingID { try socket.set(.routingID, Array(routingID.utf8)) }
        if let receiveHighWaterMark { try socket.set(.receiveHighWaterMark, receiveHighWaterMark) }
        self.socket = socket
    }

    func connect(_ endpoint: String) throws {
        try socket?.connect(endpoint)
    }

    /// Sends one envelope frame, waiting (on its own thread) while the pipe is full.
    func send(_ frame: [UInt8]) async throws {
        guard let socket else { return }
        if try socket.trySend(ZeroMQMessage([frame])) == nil { return }
        try await onOwnThread { [self] in
            try self.socket?.set(.sendTimeout, .seconds(10))
            try self.socket?.blockingSend(ZeroMQMessage([frame]))
        }
    }

    func send(_ envelope: Envelope) async throws {
        try await send(Self.encode(envelope))
    }

    /// Sends `frame` `count` times, as fast as the pipe takes them.
    func flood(_ frame: [UInt8], count: Int) async throws {
        try await onOwnThread { [self] in
            guard let socket = self.socket else { return }
            try socket.set(.sendTimeout, .seconds(10))
            for _ in 0..<count { try socket.blockingSend(ZeroMQMessage([frame])) }
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

    /// Every envelope that arrives within `timeout` of the previous one, up
    /// to `limit` (each entry of a batch counting one).
    ///
    /// Read on one thread in one go: a thread and a hop through the
    /// cooperative pool per envelope made reading a thousand answers take
    /// seconds on a loaded machine, long enough for the node's libzmq
    /// heartbeats, stuck behind the unread answers, to drop the connection
    /// and the answers queued on it.
    func receiveAll(idle timeout: Duration, limit: Int) async throws -> [Envelope] {
        try await onOwnThread { [self] () -> [Envelope] in
            var envelopes: [Envelope] = []
            while envelopes.count < limit, let socket = self.socket,
                  try socket.poll(.readable, timeout: timeout).contains(.readable),
                  let message = try socket.tryReceive() {
                let parts = message.copyFrames()
                guard parts.count == 1 else { break }
                envelopes += try Self.envelopes(in: parts[0])
            }
            return envelopes
        }
    }

    /// The envelope in `frame`, or each envelope of the batch it is.
    static func envelopes(in frame: [UInt8]) throws -> [Envelope] {
        try frame.withUnsafeBytes { bytes in
            guard WireBatch.isBatch(bytes) else { return [try WireCodec.decode(bytes, limits: WireLimits())] }
            let batch = WireBatch.read(bytes, limits: WireLimits())
            if let error = batch.error { throw error }
            return try batch.entries.map { try WireCodec.decode(WireBatch.bytes(of: $0, in: bytes), limits: WireLimits()) }
        }
    }

    /// Closes the socket at once (no linger): the node sees the connection drop.
    func close() {
        socket = nil
    }

    static func encode(_ envelope: Envelope) -> [UInt8] {
        var bytes: [UInt8] = []
        WireCodec.encode(envelope, into: &bytes)
        return bytes
    }
}

/// Requests as a real caller sends them, captured by a scripted node.
enum CapturedRequests {
    /// The request a caller sends for `call` on service `capture`.
    static func request<A: DistributedActor>(
        _ type: A.Type, _ call: @escaping @Sendable (A) async throws -> Void
    ) async throws -> CallRequest where A.ActorSystem == CortSystem {
        try await capture(type, call) { node in
            let discovery = LocalDiscovery()
            try await discovery.register(ServiceInstance(service: "capture", id: "capture@scripted", endpoint: node.endpoint))
            return (discovery, .service("capture"))
        }
    }

    /// The request a caller sends for `call` on an actor instance of `service` (at the scripted node).
    static func instanceRequest<A: DistributedActor>(
        _ type: A.Type, service: String, _ call: @escaping @Sendable (A) async throws -> Void
    ) async throws -> CallRequest where A.ActorSystem == CortSystem {
        try await capture(type, call) { node in
            (LocalDiscovery(), CortActorID(service: service, instance: "placeholder", endpoint: node.endpoint))
        }
    }

    private static func capture<A: DistributedActor>(
        _ type: A.Type, _ call: @escaping @Sendable (A) async throws -> Void,
        addressing: (ScriptedNode) async throws -> (any Discovery, CortActorID)
    ) async throws -> CallRequest where A.ActorSystem == CortSystem {
        let node = try ScriptedNode()
        let (discovery, id) = try await addressing(node)
        let caller = try CortSystem.start(.init(name: "capturer", discovery: discovery, defaultTimeout: .seconds(30)))
        let actor = try A.resolve(id: id, using: caller)
        let task = Task { try await call(actor) }
        let received = await next(node.requests, within: .seconds(30))
        task.cancel()
        _ = await task.result
        await caller.shutdown()
        await node.stop()
        return try #require(received?.request, "the scripted node received the request")
    }
}

/// Waits for `body` with a deadline; nil when the deadline passed first (or
/// `body` threw). `body` runs in a task of its own and is left to finish by
/// itself: it need not honour cancellation.
func within<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async -> T? {
    let race = FirstOutcome<T>()
    return await withCheckedContinuation { continuation in
        race.install(continuation)
        Task { race.finish(try? await body()) }
        Task {
            try? await Task.sleep(for: timeout)
            race.finish(nil)
        }
    }
}

/// Resumes a continuation with the first outcome it is given.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let state = Mutex<(done: Bool, pending: T??, waiter: CheckedContinuation<T?, Never>?)>((false, nil, nil))

    func install(_ continuation: CheckedContinuation<T?, Never>) {
        let early = state.withLock { state -> T?? in
            if let pending = state.pending { return pending }
            state.waiter = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    func finish(_ value: T?) {
        let waiter = state.withLock { state -> CheckedContinuation<T?, Never>? in
            guard !state.done else { return nil }
            state.done = true
            guard let waiter = state.waiter.take() else {
                state.pending = .some(value)
                return nil
            }
            return waiter
        }
        waiter?.resume(returning: value)
    }
}
