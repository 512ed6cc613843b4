extension WorkerPool {
    /// Makes a pool, runs it while `body` uses it, then shuts it down and
    /// waits until it has stopped: no task group to write, and no way to
    /// forget to run the pool or to shut it down.
    ///
    /// ```swift
    /// let lengths = try await WorkerPool.withPool(configuration: .init(workers: 4, queueCapacity: 16)) { index in
    ///     Tokenizer(id: index)
    /// } body: { pool in
    ///     try await pool.submit { tokenizer in tokenizer.count("a b c") }
    /// }
    /// ```
    ///
    /// When `body` returns, the pool shuts down as with ``shutdown()``: work
    /// it accepted still runs, and this returns `body`'s result once the
    /// pool has stopped. When `body` throws, or the calling task is
    /// cancelled, the pool stops at once as with a cancelled ``run()``
    /// (queued work fails with ``WorkerPoolError/Code/shutDown``, running
    /// work is cancelled), and this throws once it has stopped. Either way
    /// the pool takes no work afterwards.
    ///
    /// - Parameters:
    ///   - configuration: the number of workers and the queue's capacity, as
    ///     for ``init(configuration:clock:taskExecutor:makeWorker:)``.
    ///   - clock: the clock timeouts are measured on.
    ///   - taskExecutor: the executor the workers' tasks prefer; nil for the
    ///     global concurrent pool.
    ///   - isolation: the actor `body` runs on; the caller's by default.
    ///   - makeWorker: makes worker `index` (0..<workers) as the pool starts.
    ///   - body: uses the pool; its result is returned.
    /// - Throws: what `body` throws;
    ///   ``WorkerPoolError/Code/invalidConfiguration`` for a bad
    ///   configuration; ``WorkerPoolError/Code/workerFailed`` when
    ///   `makeWorker` throws; `CancellationError` when cancelled.
    public static func withPool<Result>(
        configuration: Configuration,
        clock: any Clock<Duration> = ContinuousClock(),
        taskExecutor: (any TaskExecutor)? = nil,
        isolation: isolated (any Actor)? = #isolation,
        makeWorker: @escaping @Sendable (Int) async throws -> Worker,
        body: (WorkerPool) async throws -> Result
    ) async throws -> Result {
        let pool = try WorkerPool(
            configuration: configuration, clock: clock, taskExecutor: taskExecutor, makeWorker: makeWorker)
        // Before the task that runs it exists: `body`'s first submit must not
        // look like a submit to a pool nobody runs.
        try pool.claimRun()
        return try await withThrowingDiscardingTaskGroup(returning: Result.self, isolation: isolation) { group in
            // Not `run()`: the pool ends with `body`, not with a graceful
            // shutdown of a ServiceGroup the caller may be in.
            group.addTask { try await pool.runClaimed() }
            let result = try await body(pool)
            pool.shutdown()
            return result
        }
    }
}
