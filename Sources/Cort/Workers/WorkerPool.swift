import Synchronization

/// A fixed set of workers that run submitted work, at most one job per worker
/// at a time, fed by a bounded queue.
///
/// Each worker owns the value `makeWorker` made for it (a replica of a
/// service actor, a parser, a connection), so a pool of N workers runs N jobs
/// at once. Work waits in a queue of at most `queueCapacity` jobs; when it is
/// full, ``submit(timeout:_:)`` suspends until there is room (oldest waiter
/// first) and ``trySubmit(timeout:_:)`` fails at once with
/// ``WorkerPoolError/Code/overloaded``: the work did not run. Nothing accepted
/// is ever dropped: every submitter gets exactly one outcome.
///
/// The simplest way to use one is
/// ``withPool(configuration:clock:taskExecutor:isolation:makeWorker:body:)``,
/// which runs the pool while a closure uses it and shuts it down after:
///
/// ```swift
/// let lengths = try await WorkerPool.withPool(configuration: .init(workers: 4, queueCapacity: 64)) { index in
///     Tokenizer(id: index)
/// } body: { pool in
///     try await pool.submit(timeout: .seconds(2)) { tokenizer in tokenizer.count(text) }
/// }
/// ```
///
/// A pool that lives as long as a server is a swift-service-lifecycle
/// `Service`: put it in the `ServiceGroup`, before the services that use it,
/// and ``run()`` drains it on a graceful shutdown. Work submitted to a pool
/// that nobody runs fails after a second with
/// ``WorkerPoolError/Code/notRunning`` instead of waiting forever.
///
/// Cancelling a submitter's task removes its job if it has not started, or
/// cancels the job's task if it runs (the work sees `Task.isCancelled`); the
/// submitter gets `CancellationError` at once either way. A timeout does the
/// same with ``WorkerPoolError/Code/deadlineExceeded``. A worker stays busy
/// until its work returns, so work should honour cancellation. Work must not
/// `submit` to its own pool and wait: with every worker doing so, nobody is
/// left to run the inner work.
public final class WorkerPool<Worker: Sendable>: Sendable {
    /// How many workers run and how much work may wait.
    public let configuration: Configuration

    let makeWorker: @Sendable (Int) async throws -> Worker
    let clock: RuntimeClock
    /// Where the workers' tasks run; nil for the global pool.
    let taskExecutor: (any TaskExecutor)?
    /// The actor a worker's loop runs on, if any (see
    /// ``init(configuration:runtimeClock:taskExecutor:isolation:makeWorker:)``).
    let isolation: (@Sendable (Worker) -> (any Actor)?)?
    /// Everything the pool knows, the channel from submitters to workers
    /// included (``WorkerPoolState/queue``, bounded by `permits` to
    /// `queueCapacity`): a job enters it under the same lock that admits it,
    /// so it is never dropped, and a worker that waits for one is handed it
    /// directly (``next()``).
    let state: BlockingLock<WorkerPoolState<Worker>>

    /// A worker waiting in ``next()`` for its next job (nil: stop).
    typealias IdleWorker = WorkerPoolState<Worker>.IdleWorker
    typealias Handoff = WorkerPoolState<Worker>.Handoff

    /// Makes a pool; nothing runs until ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: the number of workers and the queue's capacity,
    ///     both at least 1 (else this throws ``WorkerPoolError/Code/invalidConfiguration``).
    ///   - clock: the clock timeouts are measured on.
    ///   - taskExecutor: the executor the workers' tasks prefer (their
    ///     nonisolated code, and the code of default actors they call, runs
    ///     there); nil for the global concurrent pool.
    ///   - makeWorker: makes worker `index` (0..<workers) when ``run()``
    ///     starts; if it throws, the pool stops and `run()` throws.
    public convenience init(
        configuration: Configuration,
        clock: any Clock<Duration> = ContinuousClock(),
        taskExecutor: (any TaskExecutor)? = nil,
        makeWorker: @escaping @Sendable (Int) async throws -> Worker
    ) throws {
        try self.init(configuration: configuration, runtimeClock: RuntimeClock(clock), taskExecutor: taskExecutor,
                      makeWorker: makeWorker)
    }

    /// A pool on a clock already wrapped, for an owner that reads the same
    /// one (a node): its times and the pool's deadlines are then on one scale.
    ///
    /// `isolation` names the actor a worker's loop runs on, for a worker
    /// that stands for an actor (a node's replica with a generated
    /// dispatch): the loop then takes its jobs and runs them on that actor,
    /// and its calls into the actor switch nothing. With a task executor,
    /// every change of actor is a job queued on that executor (the runtime
    /// cannot switch in place there), so entering the actor and leaving it
    /// again cost two such jobs a job.
    init(
        configuration: Configuration,
        runtimeClock: RuntimeClock,
        taskExecutor: (any TaskExecutor)?,
        isolation: (@Sendable (Worker) -> (any Actor)?)? = nil,
        makeWorker: @escaping @Sendable (Int) async throws -> Worker
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.makeWorker = makeWorker
        self.clock = runtimeClock
        self.taskExecutor = taskExecutor
        self.isolation = isolation
        state = BlockingLock(WorkerPoolState(configuration: configuration))
    }

    /// Runs work on a worker once there is room in the queue, and returns its result.
    ///
    /// Suspends while the queue is full (backpressure), oldest submitter
    /// first, then until the work has run.
    ///
    /// - Parameters:
    ///   - timeout: how long the whole submit may take, measured on the pool's
    ///     clock; when it passes, the work is skipped if it has not started
    ///     or its task is cancelled if it runs, and this throws
    ///     ``WorkerPoolError/Code/deadlineExceeded``. Nil waits as long as it
    ///     takes.
    ///   - work: what to run on the worker.
    /// - Throws: what `work` throws; `CancellationError` when the calling task
    ///   is cancelled first; a ``WorkerPoolError``: `deadlineExceeded`,
    ///   `shutDown` (the pool is shutting down or has stopped), `workerFailed`,
    ///   or `notRunning` (a submit made before ``run()`` began, and it did not
    ///   begin within a second; work submitted while the task that will run
    ///   the pool starts up simply waits for it).
    public func submit<Result: Sendable>(
        timeout: Duration? = nil,
        _ work: @escaping @Sendable (Worker) async throws -> Result
    ) async throws -> Result {
        try await enqueue(timeout: timeout, waitForRoom: true, work)
    }

    /// Runs work on a worker if the queue has room now, and returns its result.
    ///
    /// Like ``submit(timeout:_:)``, but when the queue is full it throws
    /// ``WorkerPoolError/Code/overloaded`` at once: the work did not run, and
    /// nothing of it is kept.
    public func trySubmit<Result: Sendable>(
        timeout: Duration? = nil,
        _ work: @escaping @Sendable (Worker) async throws -> Result
    ) async throws -> Result {
        try await enqueue(timeout: timeout, waitForRoom: false, work)
    }

    /// Stops taking work and lets the workers finish what was accepted; then
    /// ``run()`` returns.
    ///
    /// Later submits throw ``WorkerPoolError/Code/shutDown``, and so do
    /// submitters still waiting for room (their work did not run). Calling
    /// it again does nothing.
    public func shutdown() {
        let (waiters, idle) = state.withLock { state in
            (state.accepting ? state.stopAccepting() : [], state.closeChannel())
        }
        for worker in idle { worker.resume(returning: nil) }
        for waiter in waiters { waiter.fail(WorkerPoolError.notAccepting) }
    }

    /// The queue and the workers now, for load reports (a node sends
    /// ``Load/freeSlots`` in its pongs). A snapshot: it may be stale at once.
    public var load: Load {
        state.withLock { state in
            Load(
                queued: configuration.queueCapacity - state.permits,
                running: state.running,
                waiting: state.waiters.count,
                workers: configuration.workers,
                queueCapacity: configuration.queueCapacity
            )
        }
    }
}
