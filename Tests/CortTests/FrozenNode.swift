import CortZeroMQ
import Foundation
import Synchronization
import Testing
@testable import Cort

/// A node that is a plain ROUTER on a thread of its own: it answers pings
/// (so callers see it live) until it has received `freezeAfter` requests,
/// then answers nothing at all, like a frozen process whose connection
/// stays open. Every request it receives is reported on ``requests``; it
/// never answers one. ``restart(incarnation:)`` makes it answer pings again
/// under a new incarnation, like a process restarted behind the same endpoint.
final class FrozenNode: @unchecked Sendable {
    // @unchecked: `socket` is used only by the node's own thread once init
    // returns; the rest is a Mutex, an Atomic and an AsyncStream continuation.
    let endpoint: String
    let requests: AsyncStream<CallRequest>
    private let socket: ZeroMQSocket
    private let context: ZeroMQContext
    private let stopped = Atomic<Bool>(false)
    private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let hasFinished = Atomic<Bool>(false)
    private let freezeAfter: Atomic<Int>
    private let incarnation = Atomic<UInt64>(42)

    init(freezeAfter: Int) throws {
        self.freezeAfter = Atomic(freezeAfter)
        context = try ZeroMQContext()
        socket = try ZeroMQSocket(.router, context: context)
        try socket.set(.routerMandatory, true)
        endpoint = try socket.bind("tcp://127.0.0.1:*")
        let (requests, continuation) = AsyncStream<CallRequest>.makeStream()
        self.requests = requests
        Thread.detachNewThread { [self] in
            serve(continuation)
        }
    }

    /// Answers pings again, from now on, as `incarnation`.
    func restart(incarnation: UInt64) {
        self.incarnation.store(incarnation, ordering: .releasing)
        freezeAfter.store(.max, ordering: .releasing)
    }

    private func serve(_ continuation: AsyncStream<CallRequest>.Continuation) {
        var received = 0
        // Bounded: a test that forgets to stop it ends after 60 s anyway.
        let giveUp = ContinuousClock.now + .seconds(60)
        while !stopped.load(ordering: .acquiring), ContinuousClock.now < giveUp {
            guard (try? socket.poll(.readable, timeout: .milliseconds(10)).contains(.readable)) == true,
                  let message = try? socket.tryReceive() else { continue }
            let frames = message.copyFrames()
            guard frames.count == 2,
                  let envelope = try? frames[1].withUnsafeBytes({ try WireCodec.decode($0, limits: WireLimits()) })
            else { continue }
            switch envelope {
            case .ping(let sequence) where received < freezeAfter.load(ordering: .acquiring):
                var pong: [UInt8] = []
                WireCodec.encode(.pong(sequence: sequence, freeSlots: 16,
                                       incarnation: incarnation.load(ordering: .acquiring)), into: &pong)
                _ = try? socket.trySend(ZeroMQMessage([frames[0], pong]))
            case .request(let request):
                received += 1
                continuation.yield(request)
            default:
                break
            }
        }
        continuation.finish()
        hasFinished.store(true, ordering: .releasing)
        finished.withLock { $0.take() }?.resume()
    }

    /// Stops the node's thread and waits for it.
    func stop() async {
        stopped.store(true, ordering: .releasing)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = finished.withLock { waiting in
                if hasFinished.load(ordering: .acquiring) { return true }
                waiting = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
