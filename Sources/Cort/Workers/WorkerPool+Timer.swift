extension WorkerPool {
    /// Expires jobs whose timeout passed: one task for the whole pool
    /// instead of one per call, sleeping until the earliest deadline. Runs
    /// in run()'s task group, which cancels it once the workers are done.
    func runTimer() async {
        // Bounded by cancellation, which run() sends when the workers end.
        while !Task.isCancelled {
            let now = clock.now
            let (expired, sleepUntil) = state.withLock { state in
                let expired = state.deadlines.popExpired(at: now)
                for job in expired { state.forget(job) }
                state.timerSleepsUntil = state.deadlines.earliest
                state.timerWakeRequested = false
                return (expired, state.timerSleepsUntil)
            }
            for job in expired { job.expire() }
            await sleep(until: sleepUntil)
        }
    }

    /// Returns at `deadline` (never, if nil), when an earlier deadline is
    /// added, or on cancellation, whichever comes first.
    private func sleep(until deadline: Duration?) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.timerWakeRequest() }
            if let deadline {
                group.addTask { try? await self.clock.sleep(until: deadline) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func timerWakeRequest() async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                let wakeNow = state.withLock { state in
                    if state.timerWakeRequested || Task.isCancelled { return true }
                    state.timerWakeup = continuation
                    return false
                }
                if wakeNow { continuation.resume() }
            }
        } onCancel: {
            let wakeup = state.withLock { state in
                defer { state.timerWakeup = nil }
                return state.timerWakeup
            }
            wakeup?.resume()
        }
    }
}
