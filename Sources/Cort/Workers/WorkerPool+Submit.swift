extension WorkerPool {
    /// Admission, shared by `submit` and `trySubmit`. The submitter suspends
    /// once, for the whole of waiting for room, waiting in the queue and running.
    func enqueue<Result: Sendable>(
        timeout: Duration?,
        waitForRoom: Bool,
        _ work: @escaping @Sendable (Worker) async throws -> Result
    ) async throws -> Result {
        // Turned-away work costs no allocation: check before making the job.
        let (early, started): ((any Error)?, Bool) = state.withLock { state in
            if !state.accepting { return (state.refusal, state.started) }
            if !waitForRoom && state.permits == 0 { return (WorkerPoolError.queueFull, state.started) }
            return (nil, state.started)
        }
        if let early { throw early }
        try Task.checkCancellation()

        let job = WorkerPoolTypedJob<Worker, Result>(
            deadline: timeout.map { clock.now + $0 }, work: work)
        guard started else { return try await outcomeBeforeRun(of: job, waitForRoom: waitForRoom) }
        return try await outcome(of: job, waitForRoom: waitForRoom)
    }

    /// Admits the job and suspends until it has its outcome.
    func outcome<Result: Sendable>(
        of job: WorkerPoolTypedJob<Worker, Result>, waitForRoom: Bool
    ) async throws -> Result {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                guard job.install(continuation) else { return }
                admit(job, waitForRoom: waitForRoom)
            }
        } onCancel: {
            job.fail(CancellationError())
            removeWaiter(job)
        }
    }

    /// Puts a job whose submitter waits into the channel, the waiters or fails it.
    private func admit(_ job: some WorkerPoolJob<Worker>, waitForRoom: Bool) {
        let (refusal, timerWakeup, handoff) = state.withLock {
            state -> (WorkerPoolError?, UnsafeContinuation<Void, Never>?, Handoff?) in
            guard state.accepting else { return (state.refusal, nil, nil) }
            var handoff: Handoff?
            if state.permits > 0 {
                state.permits -= 1
                // Under the lock: `shutdown()` closes the channel only after
                // it has stopped admission under this lock, so the channel
                // is open here.
                handoff = state.send(job)
            } else if waitForRoom {
                state.waiters.append(job)
            } else {
                return (.queueFull, nil, nil)
            }
            return (nil, state.watch(job), handoff)
        }
        handoff?.deliver()
        timerWakeup?.resume()
        if let refusal { job.fail(refusal) }
    }

    /// A cancelled submitter's job leaves the waiters at once so it does not
    /// hold a place; if a worker already made room for it, it is skipped there.
    private func removeWaiter(_ job: some WorkerPoolJob<Worker>) {
        state.withLock { $0.forget(job) }
    }
}
