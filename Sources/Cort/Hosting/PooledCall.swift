import Synchronization

/// A call handed to a hosted service's pool, as one object: the job the pool
/// queues, the work it runs (the method, on a replica), and the completion
/// it brings back to the node. Handing a call over allocates this object
/// only, where closures for the work, the completion, its ticket and its
/// return to the reactor cost several allocations more.
///
/// Its own job rather than a `WorkerPoolTypedJob`: that class is generic, so
/// its state was laid out at run time, and every call paid for it in
/// metadata look-ups and in copies and destruction through value witnesses
/// (callgrind, the node at 64 calls in flight: about 2,500 instructions a
/// call). The rules are the same: every path that ends the job goes through
/// `phase`, so the node hears of it exactly once, and a job ended while it
/// waited is never started.
final class PooledCall: WorkerPoolJob, @unchecked Sendable {
    // @unchecked: the constants are Sendable values, `phase` is behind a
    // Mutex, `timerIndex` is touched only under the pool's lock, and
    // `ending` is handed over as its comment says.
    typealias Worker = NodeServer.Replica

    private enum Phase {
        /// Queued in the pool.
        case waiting
        case running(WorkerPoolRunner)
        /// The node has (or is being given) its outcome.
        case finished
    }

    let server: NodeServer
    let key: NodeServer.CallKey
    let lane: Int
    let request: CallRequest
    let target: TargetCatalog.Target
    let context: CallContext
    let interceptors: InterceptorChain<any ServerInterceptor>
    /// How long it waited in the node's intake.
    let queued: Duration
    let deadline: Duration?
    // Safe: touched only under the pool's lock (see WorkerPoolDeadlines).
    @exclusivity(unchecked) nonisolated(unsafe) var timerIndex = -1
    private let phase = Mutex(Phase.waiting)
    /// Its outcome, from ``deliver(_:started:)`` until the node answers it.
    /// Written once by the thread that ended the job, before the call joins
    /// the node's ``NodeServer/FinishedCalls`` under their lock; read once by
    /// the node after it took the call from there under the same lock.
    @exclusivity(unchecked) private nonisolated(unsafe) var ending: (Result<CallOutcome, any Error>, started: Bool)?

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
        self.deadline = deadline
    }

    func start(on runner: WorkerPoolRunner) -> Bool {
        phase.withLock { phase in
            guard case .waiting = phase else { return false }
            phase = .running(runner)
            return true
        }
    }

    nonisolated(nonsending) func run(on replica: NodeServer.Replica, beforeAnswering: () -> Void) async {
        let outcome = await server.system.execute(request, target: target, on: replica.actor,
                                                  dispatch: replica.dispatch, context: context,
                                                  interceptors: interceptors, queued: queued,
                                                  arguments: server.argumentDecoder)
        ran(outcome, beforeAnswering: beforeAnswering)
    }

    /// A method that is not `async`, run through the replica's generated
    /// dispatch without an async call (see ``CortSystem/executeSynchronously``).
    func runSynchronously(on replica: NodeServer.Replica, isolation: isolated (any Actor)?,
                          beforeAnswering: () -> Void) -> Bool {
        guard let outcome = server.system.executeSynchronously(
            request, target: target, on: replica.actor, dispatch: replica.dispatch, context: context,
            interceptors: interceptors, arguments: server.argumentDecoder, isolation: isolation)
        else { return false }
        ran(outcome, beforeAnswering: beforeAnswering)
        return true
    }

    private func ran(_ outcome: CallOutcome, beforeAnswering: () -> Void) {
        beforeAnswering()
        let mine = phase.withLock { phase in
            guard case .running = phase else { return false }
            phase = .finished
            return true
        }
        if mine { deliver(.success(outcome), started: true) }
    }

    func fail(_ error: any Error) {
        end(waiting: error, running: error)
    }

    func expire() {
        end(waiting: WorkerPoolError.expiredBeforeStart, running: WorkerPoolError.expiredWhileRunning)
    }

    private func end(waiting waitingError: any Error, running runningError: any Error) {
        let ending: (any Error, started: Bool)? = phase.withLock { phase in
            switch phase {
            case .waiting:
                phase = .finished
                return (waitingError, false)
            case .running(let runner):
                phase = .finished
                // Under the lock: the worker cannot finish this job and take
                // the next one in between, so only this job is cancelled.
                runner.cancel()
                return (runningError, true)
            case .finished:
                return nil
            }
        }
        if let (error, started) = ending { deliver(.failure(error), started: started) }
    }

    /// The job ended (on the thread that ended it): the node answers it in its next batch.
    private func deliver(_ outcome: Result<CallOutcome, any Error>, started: Bool) {
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
    /// and the job that answers them.
    struct FinishedCalls: ~Copyable {
        var calls: [PooledCall] = []
        /// A job to answer them is queued on the reactor.
        var scheduled = false
        /// Answers them on the reactor (``answerFinishedCalls()``); nil
        /// before the node runs and after it stopped.
        var answer: AnswerJob?
    }

    /// The job that answers finished calls, as an object: taken out of the
    /// lock as a reference, where a closure taken out through `withLock`'s
    /// generic result was reabstracted (two allocations a call).
    final class AnswerJob: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// A worker finished `call` (on its thread: the reactor's, or the
    /// global pool's): the node answers it in its next batch.
    nonisolated func finished(_ call: PooledCall) {
        let answer = finishedCalls.withLock { finished -> AnswerJob? in
            finished.calls.append(call)
            guard !finished.scheduled, let answer = finished.answer else { return nil }
            finished.scheduled = true
            return answer
        }
        // One job for every call that finishes before it runs: at 64 calls
        // in flight one job answers many, and a call comes back by joining
        // a list (no allocation).
        if let answer { reactor.execute(answer.run) }
    }

    /// Answers the calls whose workers finished, all that are in, and
    /// starts the next ones. Calls that finish meanwhile queue another job,
    /// behind what the reactor has queued: workers on the global pool that
    /// finish calls as fast as this answers them do not keep it from reading.
    func answerFinishedCalls() {
        // The batch's storage goes in and out through a local: the closure
        // does not touch the actor's state, or it would be checked to run on
        // the actor's executor, each batch.
        var batch = finishedBatch
        finishedBatch = []
        let running = finishedCalls.withLock { finished in
            swap(&batch, &finished.calls)
            finished.scheduled = false
            return finished.answer != nil
        }
        // A job queued before the node stopped answers nothing after it, as
        // the node's answering task did not.
        answerBatches.startGathering()
        for call in batch where running {
            guard let (outcome, started) = call.takeOutcome() else { continue }
            completed(call.key, in: call.lane, outcome, started: started)
        }
        for closed in answerBatches.finish() { send(closed) }
        batch.removeAll(keepingCapacity: true)
        finishedBatch = batch
    }
}
