import Synchronization

/// A call handed to a hosted service's pool, as one object: the job the pool
/// queues, the work it runs (the method, on a replica), and the completion
/// it brings back to the node. Handing a call over allocates this object
/// only, where closures for the work, the completion, its ticket and its
/// return to the reactor cost several allocations more.
final class PooledCall: WorkerPoolTypedJob<NodeServer.Replica, CallOutcome>, @unchecked Sendable {
    let server: NodeServer
    let key: NodeServer.CallKey
    let lane: Int
    let request: CallRequest
    let target: TargetCatalog.Target
    let context: CallContext
    let interceptors: InterceptorChain<any ServerInterceptor>
    /// How long it waited in the node's intake.
    let queued: Duration
    /// Its outcome, from ``deliver(_:started:)`` until the node answers it.
    /// Written once by the thread that ended the job, before the call joins
    /// the node's ``NodeServer/FinishedCalls`` under their lock; read once by
    /// the node after it took the call from there under the same lock.
    private nonisolated(unsafe) var ending: (Result<CallOutcome, any Error>, started: Bool)?

    init(server: NodeServer, key: NodeServer.CallKey, lane: Int, request: CallRequest, target: TargetCatalog.Target,
         context: CallContext, interceptors: InterceptorChain<any ServerInterceptor>, queued: Duration,
         deadline: Duration) {
        self.server = server
        self.key = key
        self.lane = lane
        self.request = request
        self.target = target
        self.context = context
        self.interceptors = interceptors
        self.queued = queued
        super.init(deadline: deadline)
    }

    override func perform(on replica: NodeServer.Replica) async throws -> CallOutcome {
        await server.system.execute(request, target: target, on: replica.actor, context: context,
                                    interceptors: interceptors, queued: queued, arguments: server.argumentDecoder)
    }

    override func deliver(_ outcome: Result<CallOutcome, any Error>, started: Bool) {
        ending = (outcome, started)
        server.finished(self)
    }

    /// Its outcome, once (see ``ending``).
    func takeOutcome() -> (Result<CallOutcome, any Error>, started: Bool)? {
        defer { ending = nil }
        return ending
    }
}

extension NodeServer {
    /// Calls whose workers finished, waiting for the node to answer them,
    /// and the node's task that answers them when it waits for more.
    struct FinishedCalls: ~Copyable {
        var calls: [PooledCall] = []
        var waiter: UnsafeContinuation<Void, Never>?
        var stopped = false

        /// The waiting task, taken out to be resumed.
        mutating func takeWaiter() -> UnsafeContinuation<Void, Never>? {
            defer { waiter = nil }
            return waiter
        }
    }

    /// A worker finished `call` (on its thread: the reactor's, or the
    /// global pool's): the node answers it in its next batch.
    nonisolated func finished(_ call: PooledCall) {
        let waiter = finishedCalls.withLock { finished in
            finished.calls.append(call)
            return finished.takeWaiter()
        }
        waiter?.resume()
    }

    /// Answers the calls whose workers finished, all that are in at each
    /// turn, and starts the next ones; until the node's task is cancelled.
    ///
    /// One task in a loop rather than a job per call: a call comes back by
    /// joining a list (no allocation), and at 64 calls in flight one turn of
    /// the reactor answers many.
    func answerFinishedCalls() async {
        var batch: [PooledCall] = []
        var batchesSinceYield = 0
        // Bounded: each turn either answers calls or waits; cancelling the
        // node's task stops it.
        while true {
            let stopped = finishedCalls.withLock { finished in
                swap(&batch, &finished.calls)
                return finished.stopped
            }
            for call in batch {
                guard let (outcome, started) = call.takeOutcome() else { continue }
                completed(call.key, in: call.lane, outcome, started: started)
            }
            if !batch.isEmpty {
                batch.removeAll(keepingCapacity: true)
                batchesSinceYield += 1
                if batchesSinceYield == Self.framesPerTurn {
                    // Workers on the global pool may keep finishing calls as
                    // fast as this answers them: let the reactor read too.
                    batchesSinceYield = 0
                    await reactor.yieldTurn(isolation: self)
                }
                continue
            }
            batchesSinceYield = 0
            if stopped { return }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { continuation in
                    let ready = finishedCalls.withLock { finished in
                        guard finished.calls.isEmpty, !finished.stopped else { return true }
                        finished.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                let waiter = finishedCalls.withLock { finished in
                    finished.stopped = true
                    return finished.takeWaiter()
                }
                waiter?.resume()
            }
        }
    }
}
