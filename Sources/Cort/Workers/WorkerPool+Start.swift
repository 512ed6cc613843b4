/// How long a submit made before `run()` waits for it to begin before it
/// fails with ``WorkerPoolError/Code/notRunning``. Starting the task that
/// calls `run()` takes micro- to milliseconds, also in a `ServiceGroup` whose
/// services start together; a second is that with a wide margin, and short
/// enough that a pool nobody runs is an error a newcomer sees, not a hang.
let workerPoolStartGrace: Duration = .seconds(1)

extension WorkerPool {
    /// A submit that comes before `run()` has begun. The work is accepted as
    /// usual (a submitter may well race the task that is about to call
    /// `run()`), and a watch in the submitter's own task fails it with
    /// ``WorkerPoolError/Code/notRunning`` if `run()` has not begun
    /// `workerPoolStartGrace` later, or with
    /// ``WorkerPoolError/Code/deadlineExceeded`` if the submit's own timeout
    /// passes first: a pool that nobody runs answers, it does not hang.
    /// Once `run()` begins the watch ends and the pool's timer takes over.
    func outcomeBeforeRun<Result: Sendable>(
        of job: WorkerPoolTypedJob<Worker, Result>, waitForRoom: Bool
    ) async throws -> Result {
        let limit = clock.now + workerPoolStartGrace
        let wake = min(limit, job.deadline ?? limit)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await self.failUnlessRunning(job, at: wake) }
            // The watch ends with the submit, however the submit ends.
            defer { group.cancelAll() }
            return try await outcome(of: job, waitForRoom: waitForRoom)
        }
    }

    /// Waits until `run()` begins or `wake` comes; in the second case ends
    /// the job, which never ran.
    private func failUnlessRunning(_ job: any WorkerPoolJob<Worker>, at wake: Duration) async {
        // Usually `run()` has begun by the time this task does: then no
        // sleep is set on the pool's clock (a test's clock counts them).
        if state.withLock({ $0.started }) { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.clock.sleep(until: wake) }
            group.addTask { await self.waitForStart() }
            await group.next()
            group.cancelAll()
        }
        // Cancelled: the submit already has its outcome (or its submitter
        // was cancelled, which ends the job on its own).
        guard !Task.isCancelled else { return }
        state.withLock { state in
            guard !state.started else { return }
            // Out of the waiters and the deadlines; a place it holds in the
            // channel is given back by the worker that skips it, should
            // `run()` ever begin.
            state.forget(job)
            // Ended under the lock, so that `run()` cannot begin and a worker
            // start the job in between: "did not run" stays true. Safe: with
            // no worker yet the job only waits, so ending it takes nothing
            // but its own lock and resumes its submitter (no runner to cancel).
            if let deadline = job.deadline, deadline <= wake {
                job.expire()
            } else {
                job.fail(WorkerPoolError.neverStarted)
            }
        }
    }

    /// Returns once `run()` has begun, or on cancellation.
    private func waitForStart() async {
        let id = state.withLock { state in
            defer { state.nextStartWaiter += 1 }
            return state.nextStartWaiter
        }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                let now = state.withLock { state in
                    if state.started || Task.isCancelled { return true }
                    state.startWaiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.startWaiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
