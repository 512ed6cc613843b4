import Synchronization

/// One submitted piece of work, as the queue and the workers see it.
///
/// A protocol over `AnyObject` so the channel carries one reference per job
/// whatever its result type, with no extra box.
protocol WorkerPoolJob<Worker>: AnyObject, Sendable {
    associatedtype Worker: Sendable

    /// When the job expires, as an offset on the pool's clock; nil for never.
    var deadline: Duration? { get }

    /// The job's place in ``WorkerPoolDeadlines``, -1 when not there.
    /// Read and written only under the pool's lock.
    var timerIndex: Int { get set }

    /// Ends the job because its timeout passed, saying whether it had started.
    func expire()

    /// Moves a waiting job to running on `runner`; false when it already has
    /// its outcome (cancelled, expired or failed while it waited) and must be skipped.
    func start(on runner: WorkerPoolRunner) -> Bool

    /// Runs the work on `worker`, calls `beforeAnswering`, then hands the
    /// outcome to the submitter unless the submitter already has one. On
    /// the worker loop's executor (its actor, if it has one: see ``WorkerPool/isolation``).
    nonisolated(nonsending) func run(on worker: Worker, beforeAnswering: () -> Void) async

    /// Does what ``run(on:beforeAnswering:)`` does without suspending, when
    /// the job's work can be done that way on the worker loop's isolation;
    /// false, having done nothing, when it cannot (the loop then calls `run`).
    /// A call into an async function costs a frame and, with a task executor
    /// preference, a look-up of it under the task's lock.
    func runSynchronously(on worker: Worker, isolation: isolated (any Actor)?, beforeAnswering: () -> Void) -> Bool

    /// Ends the job with `error` unless it already has an outcome; a running
    /// job's task is cancelled (the work sees `Task.isCancelled`).
    func fail(_ error: any Error)
}

extension WorkerPoolJob {
    /// Work that always suspends: ``run(on:beforeAnswering:)`` does it.
    func runSynchronously(on worker: Worker, isolation: isolated (any Actor)?, beforeAnswering: () -> Void) -> Bool {
        false
    }
}

/// A job with its result type, its work and its submitter's continuation.
///
/// Every path that ends a job (result, cancellation, timeout, shutdown) goes
/// through `state`, so the submitter is resumed exactly once and a job that
/// is cancelled while queued is never started. (A node's calls are jobs of
/// their own, `PooledCall`, with the same rules and no generic state.)
final class WorkerPoolTypedJob<Worker: Sendable, Result: Sendable>: WorkerPoolJob, @unchecked Sendable {
    // @unchecked Sendable: its own state is behind a Mutex, `timerIndex` is
    // touched only under the pool's lock, the rest is immutable.

    /// Who gets the outcome: a suspended submitter, or a completion handler
    /// (``WorkerPool/tryEnqueue(timeout:_:completion:)``).
    enum Continuation {
        case submitter(UnsafeContinuation<Result, any Error>)
        case handler(@Sendable (Swift.Result<Result, any Error>, Bool) -> Void)
    }

    private enum State {
        /// Made, not yet waiting (the submitter has not suspended yet).
        case created
        /// Ended before the submitter suspended; it is resumed with this at once.
        case failedEarly(any Error)
        /// Queued, or waiting for room in the queue.
        case waiting(Continuation)
        case running(Continuation, WorkerPoolRunner)
        /// The submitter has its outcome.
        case finished
    }

    let deadline: Duration?
    // Safe: touched only under the pool's lock (see WorkerPoolDeadlines).
    @exclusivity(unchecked) nonisolated(unsafe) var timerIndex = -1
    private let work: @Sendable (Worker) async throws -> Result
    private let state: Mutex<State>

    init(deadline: Duration?, work: @escaping @Sendable (Worker) async throws -> Result) {
        self.deadline = deadline
        self.work = work
        state = Mutex(.created)
    }

    /// A job whose outcome goes to `completion`; it waits from the start.
    init(deadline: Duration?, work: @escaping @Sendable (Worker) async throws -> Result,
         completion: @escaping @Sendable (Swift.Result<Result, any Error>, Bool) -> Void) {
        self.deadline = deadline
        self.work = work
        state = Mutex(.waiting(.handler(completion)))
    }

    private func resume(_ continuation: Continuation, with outcome: Swift.Result<Result, any Error>, started: Bool) {
        switch continuation {
        case .submitter(let continuation): continuation.resume(with: outcome)
        case .handler(let completion): completion(outcome, started)
        }
    }

    /// Stores the submitter's continuation; false (having resumed it with
    /// the early failure) when the job ended before the submitter suspended.
    func install(_ continuation: UnsafeContinuation<Result, any Error>) -> Bool {
        let early: (any Error)? = state.withLock { state in
            switch state {
            case .created:
                state = .waiting(.submitter(continuation))
                return nil
            case .failedEarly(let error):
                state = .finished
                return error
            case .waiting, .running, .finished:
                preconditionFailure("a worker pool job was installed twice")
            }
        }
        guard let early else { return true }
        continuation.resume(throwing: early)
        return false
    }

    func start(on runner: WorkerPoolRunner) -> Bool {
        state.withLock { state in
            guard case .waiting(let continuation) = state else { return false }
            state = .running(continuation, runner)
            return true
        }
    }

    nonisolated(nonsending) func run(on worker: Worker, beforeAnswering: () -> Void) async {
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await work(worker))
        } catch {
            outcome = .failure(error)
        }
        beforeAnswering()
        let continuation: Continuation? = state.withLock { state in
            guard case .running(let continuation, _) = state else { return nil }
            state = .finished
            return continuation
        }
        if let continuation { resume(continuation, with: outcome, started: true) }
    }

    func fail(_ error: any Error) {
        end(waiting: error, running: error)
    }

    func expire() {
        end(waiting: WorkerPoolError.expiredBeforeStart, running: WorkerPoolError.expiredWhileRunning)
    }

    private func end(waiting waitingError: any Error, running runningError: any Error) {
        let ending: (Continuation, any Error, started: Bool)? = state.withLock { state in
            switch state {
            case .created:
                state = .failedEarly(waitingError)
                return nil
            case .waiting(let continuation):
                state = .finished
                return (continuation, waitingError, false)
            case .running(let continuation, let runner):
                state = .finished
                // Under the lock: the worker cannot finish this job and take
                // the next one in between, so only this job is cancelled.
                runner.cancel()
                return (continuation, runningError, true)
            case .failedEarly, .finished:
                return nil
            }
        }
        if let (continuation, error, started) = ending {
            resume(continuation, with: .failure(error), started: started)
        }
    }
}
