extension WorkerPool {
    /// How a child of run()'s task group ended.
    enum ChildEnd: Sendable {
        case worker((any Error)?)
        case timer
    }

    /// Runs the workers until ``shutdown()`` (or a stop), without listening
    /// for a `ServiceGroup`'s graceful shutdown: for an owner that drains
    /// its own callers first and shuts the pool down after (a node's hosted
    /// services). Users run a pool with ``run()`` or ``withPool(configuration:clock:taskExecutor:isolation:makeWorker:body:)``.
    func runUntilShutdown() async throws {
        try claimRun()
        try await runClaimed()
    }

    /// Marks the pool as run, so no submit waits for a start any more, and
    /// wakes those that did. Throws on a second call.
    func claimRun() throws {
        let waiters = try state.withLock { state in
            guard !state.started else {
                throw WorkerPoolError(.alreadyRunning, "a worker pool runs once; run() was called again")
            }
            state.started = true
            defer { state.startWaiters.removeAll() }
            return Array(state.startWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Makes each worker with `makeWorker` (concurrently) and runs it in a
    /// task group; each worker takes the next job from the queue when it is
    /// free. Returns after ``shutdown()`` once every accepted job has run.
    /// Throws what ``run()`` documents.
    func runClaimed() async throws {
        defer { state.withLock { $0.finished = true } }
        let failure: (any Error)? = await withTaskCancellationHandler {
            await withTaskGroup(of: ChildEnd.self) { group in
                for index in 0..<configuration.workers {
                    group.addTask {
                        do {
                            try await self.runWorker(index)
                            return .worker(nil)
                        } catch {
                            return .worker(error)
                        }
                    }
                }
                group.addTask {
                    await self.runTimer()
                    await self.failQueuedAfterStop()
                    return .timer
                }
                var first: (any Error)?
                var workersLeft = configuration.workers
                for await end in group {
                    guard case .worker(let error) = end else { continue }
                    workersLeft -= 1
                    if let error, first == nil {
                        first = error
                        stop(WorkerPoolError(.workerFailed, "making a worker failed; the pool stopped", cause: error))
                        group.cancelAll()
                    }
                    // The work is done; nothing is left to time out.
                    if workersLeft == 0 { group.cancelAll() }
                }
                return first
            }
        } onCancel: {
            stop(WorkerPoolError(.shutDown, "the worker pool's run() was cancelled; the work did not finish"))
        }

        // Every worker has stopped, so the channel was closed (by
        // `shutdown()` or a stop). Jobs are left in it only when no worker
        // was made (all failed): fail them here, so every submitter still
        // gets an outcome.
        let (leftoverError, leftovers, idle) = state.withLock { state in
            (state.refusal, state.drainChannel(), state.closeChannel())
        }
        for worker in idle { worker.resume(returning: nil) }
        for job in leftovers {
            state.withLock { $0.forget(job) }
            job.fail(leftoverError)
        }

        if Task.isCancelled { throw CancellationError() }
        if let failure {
            throw WorkerPoolError(.workerFailed, "making a worker failed: \(failure)", cause: failure)
        }
    }

    /// One worker: makes its value, then serves jobs in a task that is
    /// replaced whenever a job's cancellation cancelled it.
    private func runWorker(_ index: Int) async throws {
        let worker = try await makeWorker(index)
        let actor = isolation?(worker)
        // Bounded: one round per cancelled job, and the channel ends.
        while true {
            let runner = WorkerPoolRunner()
            // Unstructured on purpose: a job runs inline in this task, so
            // cancelling the job means cancelling the task, which must not
            // cancel the whole pool (nor reach a worker waiting on the
            // channel: only closing the channel ends that wait). The group's
            // task awaits it, so it never outlives run().
            let task = Task(executorPreference: taskExecutor) {
                await self.serve(worker, slot: index, runner: runner, isolation: actor)
            }
            runner.attach(task)
            if await task.value { return }
        }
    }

    /// The next job from the channel, waiting for one; nil once the
    /// channel is closed and empty. A worker waits on its own continuation,
    /// and a job sent meanwhile is handed to it directly. Not cancellable:
    /// a worker's task is cancelled only while it runs a job (see
    /// ``WorkerPoolRunner``); closing the channel ends every wait.
    private nonisolated(nonsending) func next() async -> (any WorkerPoolJob<Worker>)? {
        await withUnsafeContinuation { (worker: IdleWorker) in
            if let taken = state.withLock({ $0.take(orPark: worker) }) {
                worker.resume(returning: taken)
            }
        }
    }

    /// Runs jobs from the channel one at a time, on `isolation` (see
    /// ``isolation``); true when the channel ended, false when a job's
    /// cancellation cancelled this task.
    private func serve(_ worker: Worker, slot: Int, runner: WorkerPoolRunner,
                       isolation: isolated (any Actor)?) async -> Bool {
        // Bounded by the channel, which is closed at shutdown or stop.
        var upcoming = await next()
        while let job = upcoming {
            let (refusal, handoff) = state.withLock { state -> (WorkerPoolError?, Handoff?) in
                // The place this job held goes to the oldest submitter waiting for room.
                var handoff: Handoff?
                if let waiter = state.releasePermit() { handoff = state.send(waiter) }
                if let stopError = state.stopError {
                    state.deadlines.remove(job)
                    return (stopError, handoff)
                }
                state.running += 1
                state.runningJobs[slot] = job
                return (nil, handoff)
            }
            handoff?.deliver()
            // Whether a job waited in the channel when this one was released
            // (a refused job holds no place to release: look).
            var othersQueued = true
            if let refusal {
                job.fail(refusal)
            } else if let deadline = job.deadline, clock.now >= deadline {
                // The worker counts as free before the submitter hears back, so
                // `load` never shows work that its submitter saw finished.
                othersQueued = release(job, slot: slot)
                job.fail(WorkerPoolError.expiredBeforeStart)
            } else if job.start(on: runner) {
                if !job.runSynchronously(on: worker, isolation: isolation,
                                         beforeAnswering: { othersQueued = release(job, slot: slot) }) {
                    await job.run(on: worker) { othersQueued = release(job, slot: slot) }
                }
            } else {
                othersQueued = release(job, slot: slot)
            }
            if Task.isCancelled { return false }
            // A job queued meanwhile is taken as it is, not through the
            // continuation a worker parks on (resumed before it waits: no
            // switch, but about 1,200 instructions a job, 570 a call on a
            // node at 64 calls in flight, callgrind). On the reactor, only
            // the reactor queues jobs, so this takes at most the channel's
            // capacity in a row; the reactor's hand-off still applies. When
            // none waited as the job was released, the worker parks at once
            // (``next()`` still takes one queued since).
            if othersQueued, let queued = state.withLock({ $0.takeQueued() }) {
                upcoming = queued
            } else {
                upcoming = await next()
            }
        }
        return true
    }

    /// A job left worker `slot`: it no longer runs, nor waits for its
    /// deadline. Returns whether jobs wait in the channel.
    private func release(_ job: any WorkerPoolJob<Worker>, slot: Int) -> Bool {
        state.withLock { state in
            state.running -= 1
            state.runningJobs[slot] = nil
            state.deadlines.remove(job)
            return !state.queue.isEmpty
        }
    }

    /// After a stop, fails what is still queued now rather than when a busy
    /// worker gets to it (its work may ignore cancellation for long).
    /// The timer's task does it: a stop cancels it, and it has nothing else to do.
    private func failQueuedAfterStop() async {
        // Only once stopped: after a graceful shutdown the workers run
        // what is queued.
        guard let (error, queued) = state.withLock({ state in state.stopError.map { ($0, state.drainChannel()) } }) else {
            return
        }
        // The channel is closed (by the stop): nothing enters it any more.
        for job in queued {
            state.withLock { $0.forget(job) }
            job.fail(error)
        }
    }

    /// Stops at once (a worker failed or run() was cancelled): no new work,
    /// waiters and queued jobs fail with `error`, running jobs are cancelled.
    func stop(_ error: WorkerPoolError) {
        let (waiters, running, idle) = state.withLock { state in
            if state.stopError == nil { state.stopError = error }
            return (state.stopAccepting(), state.runningJobs.compactMap { $0 }, state.closeChannel())
        }
        for worker in idle { worker.resume(returning: nil) }
        for waiter in waiters { waiter.fail(error) }
        for job in running { job.fail(error) }
    }
}
