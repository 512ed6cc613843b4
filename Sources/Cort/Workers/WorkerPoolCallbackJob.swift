import Synchronization

/// A job whose outcome goes to a completion handler instead of a suspended
/// submitter: what ``WorkerPool/tryEnqueue(timeout:_:completion:)`` queues,
/// so that a caller on an event loop (a node's reactor) hands work over
/// without a task of its own.
final class WorkerPoolCallbackJob<Worker: Sendable, Result: Sendable>: WorkerPoolJob {
    typealias Completion = @Sendable (Swift.Result<Result, any Error>) -> Void

    private enum State {
        case waiting(Completion)
        case running(Completion, WorkerPoolRunner)
        case finished
    }

    let deadline: Duration?
    // Safe: touched only under the pool's lock (see WorkerPoolDeadlines).
    nonisolated(unsafe) var timerIndex = -1
    private let work: @Sendable (Worker) async throws -> Result
    private let state: Mutex<State>

    init(deadline: Duration?, work: @escaping @Sendable (Worker) async throws -> Result,
         completion: @escaping Completion) {
        self.deadline = deadline
        self.work = work
        state = Mutex(.waiting(completion))
    }

    func start(on runner: WorkerPoolRunner) -> Bool {
        state.withLock { state in
            guard case .waiting(let completion) = state else { return false }
            state = .running(completion, runner)
            return true
        }
    }

    func run(on worker: Worker, beforeAnswering: () -> Void) async {
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await work(worker))
        } catch {
            outcome = .failure(error)
        }
        beforeAnswering()
        let completion: Completion? = state.withLock { state in
            guard case .running(let completion, _) = state else { return nil }
            state = .finished
            return completion
        }
        completion?(outcome)
    }

    func fail(_ error: any Error) {
        end(waiting: error, running: error)
    }

    func expire() {
        end(waiting: WorkerPoolError.expiredBeforeStart, running: WorkerPoolError.expiredWhileRunning)
    }

    private func end(waiting waitingError: any Error, running runningError: any Error) {
        let ending: (Completion, any Error)? = state.withLock { state in
            switch state {
            case .waiting(let completion):
                state = .finished
                return (completion, waitingError)
            case .running(let completion, let runner):
                state = .finished
                // Under the lock: only this job's task is cancelled.
                runner.cancel()
                return (completion, runningError)
            case .finished:
                return nil
            }
        }
        if let (completion, error) = ending { completion(.failure(error)) }
    }
}

extension WorkerPool {
    /// A queued job, for cancelling it.
    public struct Ticket: Sendable {
        let cancelJob: @Sendable () -> Void

        /// Ends the job: skipped if it has not started, its task cancelled if
        /// it runs. The completion gets `CancellationError` (once, as always).
        public func cancel() {
            cancelJob()
        }
    }

    /// Queues work if the queue has room now, without suspending: for callers
    /// on an event loop. `completion` gets the outcome exactly once, on the
    /// thread that ends the job (a worker's, the timer's, or the canceller's).
    ///
    /// - Returns: a ticket that cancels the job.
    /// - Throws: ``WorkerPoolError/Code/overloaded`` when the queue is full and
    ///   ``WorkerPoolError/Code/shutDown`` after ``shutdown()``; the work did
    ///   not run and `completion` is never called.
    public func tryEnqueue<Result: Sendable>(
        timeout: Duration? = nil,
        _ work: @escaping @Sendable (Worker) async throws -> Result,
        completion: @escaping @Sendable (Swift.Result<Result, any Error>) -> Void
    ) throws -> Ticket {
        let job = WorkerPoolCallbackJob<Worker, Result>(
            deadline: timeout.map { clock.now() + $0 }, work: work, completion: completion)
        let (refusal, timerWakeup) = state.withLock {
            state -> (WorkerPoolError?, UnsafeContinuation<Void, Never>?) in
            guard state.accepting else { return (state.stopError ?? .notAccepting, nil) }
            guard state.permits > 0 else { return (.queueFull, nil) }
            state.permits -= 1
            // Under the lock, as in `admit`: never refused by a finished channel.
            jobsInput.yield(job)
            return (nil, state.watch(job))
        }
        timerWakeup?.resume()
        if let refusal { throw refusal }
        return Ticket { [self] in
            job.fail(CancellationError())
            state.withLock { $0.forget(job) }
        }
    }
}
