import ServiceLifecycle

/// A pool is a swift-service-lifecycle `Service`: put it in a `ServiceGroup`
/// before the services that submit to it, and a graceful shutdown (SIGTERM,
/// say) first stops those, then drains the pool.
///
/// ```swift
/// let pool = try WorkerPool(configuration: .init(workers: 4, queueCapacity: 64)) { index in
///     Resizer(id: index)
/// }
/// let group = ServiceGroup(services: [pool, api], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()   // `api` submits to `pool` while it serves
/// ```
extension WorkerPool: Service {
    /// Runs the workers until the pool is shut down, then returns.
    ///
    /// Makes each worker with `makeWorker` (concurrently) and runs it in a
    /// task group; each worker takes the next job from the queue when it is
    /// free. Ends in one of three ways:
    ///
    /// - A graceful shutdown of the `ServiceGroup` it runs in, or
    ///   ``shutdown()``: no new work is taken (submitters still waiting for
    ///   room get ``WorkerPoolError/Code/shutDown``; their work did not run),
    ///   every job already accepted runs, and then this returns. That is at
    ///   most `queueCapacity` queued jobs plus one running job per worker,
    ///   each until it returns or its submit's timeout passes; a group's
    ///   `maximumGracefulShutdownDuration` bounds it in time (it then cancels).
    /// - Cancellation of the calling task: the pool stops at once. Queued work
    ///   fails with ``WorkerPoolError/Code/shutDown`` (it did not run), running
    ///   work's task is cancelled, and this throws `CancellationError` once
    ///   every worker has returned.
    /// - `makeWorker` throws: the pool stops the same way and this throws
    ///   ``WorkerPoolError/Code/workerFailed`` (its `cause` is what
    ///   `makeWorker` threw); queued work fails with that error too.
    ///
    /// A pool runs once: a second call throws
    /// ``WorkerPoolError/Code/alreadyRunning``. Outside a `ServiceGroup`, run
    /// it in a task and call ``shutdown()`` when done, or let
    /// ``withPool(configuration:clock:taskExecutor:isolation:makeWorker:body:)``
    /// do both.
    public func run() async throws {
        try claimRun()
        try await withGracefulShutdownHandler {
            try await runClaimed()
        } onGracefulShutdown: {
            self.shutdown()
        }
    }
}
