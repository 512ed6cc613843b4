import CortZeroMQ
import Foundation
import Synchronization
import Testing
@testable import Cort

/// A node that is a plain ROUTER on a thread of its own, scripted by a
/// test: it answers pings, reports every request with the routing id of the
/// caller that sent it, and sends whatever frames the test asks for, well
/// formed or not. For tests of what a caller accepts from a node.
final class ScriptedNode: @unchecked Sendable {
    // @unchecked: the socket belongs to the node's own thread; frames to send
    // reach it through a Mutex-guarded queue; the rest is Atomic and an
    // AsyncStream continuation.
    struct Received: Sendable {
        let caller: [UInt8]
        let request: CallRequest
    }

    let endpoint: String
    let requests: AsyncStream<Received>
    private let context: ZeroMQContext
    private let outbox = Mutex<[[[UInt8]]]>([])
    private let stopped = Atomic<Bool>(false)
    private let done = ThreadEnd()
    /// The routing ids of the callers heard from.
    let callers = Mutex<Set<[UInt8]>>([])
    /// Each new caller's routing id, when first heard from.
    let newCallers: AsyncStream<[UInt8]>
    private let newCallersInput: AsyncStream<[UInt8]>.Continuation

    init(incarnation: UInt64 = 7) throws {
        context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.router, context: context)
        try socket.set(.routerMandatory, true)
        endpoint = try socket.bind("tcp://127.0.0.1:*")
        let (requests, continuation) = AsyncStream<Received>.makeStream()
        self.requests = requests
        (newCallers, newCallersInput) = AsyncStream<[UInt8]>.makeStream()
        let handOver = SocketHandOver(socket)
        Thread.detachNewThread { [self] in
            serve(handOver.take(), incarnation: incarnation, continuation)
        }
    }

    /// Sends `frames` (routing id first) from the node's thread.
    func send(_ frames: [[UInt8]]) {
        outbox.withLock { $0.append(frames) }
    }

    /// Sends an envelope to `caller`.
    func send(_ envelope: Envelope, to caller: [UInt8]) {
        var bytes: [UInt8] = []
        WireCodec.encode(envelope, into: &bytes)
        send([caller, bytes])
    }

    private func serve(_ socket: consuming ZeroMQSocket?, incarnation: UInt64,
                       _ continuation: AsyncStream<Received>.Continuation) {
        guard let socket else { return }
        // Bounded: a test that forgets to stop it ends after 60 s anyway.
        let giveUp = ContinuousClock.now + .seconds(60)
        while !stopped.load(ordering: .acquiring), ContinuousClock.now < giveUp {
            for frames in outbox.withLock({ queued in defer { queued = [] }; return queued }) {
                _ = try? socket.trySend(ZeroMQMessage(frames))
            }
            guard (try? socket.poll(.readable, timeout: .milliseconds(5)).contains(.readable)) == true,
                  let message = try? socket.tryReceive() else { continue }
            let frames = message.copyFrames()
            guard frames.count == 2,
                  let envelope = try? frames[1].withUnsafeBytes({ try WireCodec.decode($0, limits: WireLimits()) })
            else { continue }
            if callers.withLock({ $0.insert(frames[0]).inserted }) { newCallersInput.yield(frames[0]) }
            switch envelope {
            case .ping(let sequence):
                var pong: [UInt8] = []
                WireCodec.encode(.pong(sequence: sequence, freeSlots: 16, incarnation: incarnation), into: &pong)
                _ = try? socket.trySend(ZeroMQMessage([frames[0], pong]))
            case .request(let request):
                continuation.yield(Received(caller: frames[0], request: request))
            default:
                break
            }
        }
        continuation.finish()
        newCallersInput.finish()
        _ = consume socket
        done.finish()
    }

    /// Stops the node's thread and waits for it; its connections close.
    func stop() async {
        stopped.store(true, ordering: .releasing)
        await done.wait()
    }

    /// The first caller heard from (it pinged), waiting at most `timeout` for it.
    func waitForCaller(timeout: Duration = .seconds(30)) async -> [UInt8]? {
        if let known = callers.withLock({ $0.first }) { return known }
        return await next(newCallers, within: timeout)
    }
}

/// Hands a socket to the thread that will own it.
final class SocketHandOver: @unchecked Sendable {
    // @unchecked: written once in init, taken once by the one thread it is for.
    private var socket: ZeroMQSocket?
    init(_ socket: ZeroMQSocket) { self.socket = socket }
    func take() -> ZeroMQSocket? {
        defer { socket = nil }
        return socket
    }
}

/// The next element of `stream` within `timeout`, or nil.
func next<T: Sendable>(_ stream: AsyncStream<T>, within timeout: Duration) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
