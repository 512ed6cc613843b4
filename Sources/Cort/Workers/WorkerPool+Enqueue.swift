import Synchronization

extension WorkerPool {
    /// A queued job, for cancelling it.
    public struct Ticket: Sendable {
        let pool: WorkerPool
        let job: any WorkerPoolJob<Worker>

        /// Ends the job: skipped if it has not started, its task cancelled if
        /// it runs. The completion gets `CancellationError` (once, as always).
        public func cancel() {
            job.fail(CancellationError())
            pool.state.withLock { $0.forget(job) }
        }
    }

    /// Queues work if the queue has room now, without suspending: for callers
    /// on an event loop. `completion` gets the outcome exactly once, on the
    /// thread that ends the job (a worker's, the timer's, or the canceller's),
    /// with whether a worker had started the work: `false` means it never ran
    /// (cancelled, expired or stopped while it waited), which a caller may
    /// pass on as "safe to retry elsewhere"; `true` means it may have had
    /// effects, whatever the outcome.
    ///
    /// Unlike ``submit(timeout:_:)``, nothing watches for a pool that never
    /// runs: a job queued before ``run()`` waits for it, timeout included.
    /// This is for code that runs the pool itself.
    ///
    /// - Returns: a ticket that cancels the job.
    /// - Throws: ``WorkerPoolError/Code/overloaded`` when the queue is full and
    ///   ``WorkerPoolError/Code/shutDown`` after ``shutdown()``; the work did
    ///   not run and `completion` is never called.
    public func tryEnqueue<Result: Sendable>(
        timeout: Duration? = nil,
        _ work: @escaping @Sendable (Worker) async throws -> Result,
        completion: @escaping @Sendable (Swift.Result<Result, any Error>, _ started: Bool) -> Void
    ) throws -> Ticket {
        try tryEnqueue(WorkerPoolTypedJob<Worker, Result>(
            deadline: timeout.map { clock.now + $0 }, work: work, completion: completion))
    }

    /// Queues a job made by its owner (a type of its own that is its work and
    /// completion) if the queue has room now; as the public one does.
    func tryEnqueue(_ job: some WorkerPoolJob<Worker>) throws -> Ticket {
        let (refusal, timerWakeup, handoff) = state.withLock {
            state -> (WorkerPoolError?, UnsafeContinuation<Void, Never>?, Handoff?) in
            guard state.accepting else { return (state.refusal, nil, nil) }
            guard state.permits > 0 else { return (.queueFull, nil, nil) }
            state.permits -= 1
            // Under the lock, as in `admit`: never into a closed channel.
            let handoff = state.send(job)
            return (nil, state.watch(job), handoff)
        }
        handoff?.deliver()
        timerWakeup?.resume()
        if let refusal { throw refusal }
        return Ticket(pool: self, job: job)
    }
}
