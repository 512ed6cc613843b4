#if ConsulAgentDouble
/// The driver around ``ConsulAgentState``: it feeds events in under the lock,
/// then carries out what comes out (wake parked queries, move the timer).
extension ConsulAgentDouble {
    /// Runs `body` on the state at the clock's current time, then resumes
    /// the queries it woke and re-aims the timer at the next deadline.
    @discardableResult
    func update<T>(_ body: (inout ConsulAgentState, Duration) -> T) -> T {
        let now = clock.elapsed()
        let (result, resumes) = core.withLock { core in
            core.state.advance(to: now)
            let result = body(&core.state, now)
            let resumes = core.state.takeWakes().compactMap { core.continuations.removeValue(forKey: $0) }
            rescheduleTimer(&core)
            return (result, resumes)
        }
        for continuation in resumes { continuation.resume() }
        return result
    }

    /// One timer task sleeps until the state's next deadline (a TTL, a
    /// reaper beat); when the deadline moves, the task is replaced.
    func rescheduleTimer(_ core: inout Core) {
        guard !core.stopped else { return }
        let next = core.state.nextDeadline
        if core.timer?.deadline == next { return }
        core.timer?.task.cancel()
        core.timer = nil
        guard let next else { return }
        let clock = self.clock
        let task = Task { [weak self] in
            do { try await clock.sleepUntil(next) } catch { return }
            self?.timerFired(at: next)
        }
        core.timer = (next, task)
    }

    private func timerFired(at deadline: Duration) {
        core.withLock { core in
            if core.timer?.deadline == deadline { core.timer = nil }
        }
        update { _, _ in }
    }

    /// Parks a blocking query until the index of `query` passes `minIndex`
    /// or `deadline` (on the double's clock) comes; returns at once when the
    /// index is already past it. A cancelled task returns too.
    func waitForChange(of query: ConsulAgentState.Query, above minIndex: UInt64, until deadline: Duration) async {
        let id = core.withLock { core in
            defer { core.nextWaiterID += 1 }
            return core.nextWaiterID
        }
        let clock = self.clock
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleepUntil(deadline) }
            group.addTask { await self.park(id, on: query, above: minIndex) }
            await group.next()
            group.cancelAll()
        }
    }

    private func park(_ id: UInt64, on query: ConsulAgentState.Query, above minIndex: UInt64) async {
        let now = clock.elapsed()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (parked, ready) = core.withLock { core in
                    if core.cancelledWaiters.remove(id) != nil { return (false, [CheckedContinuation<Void, Never>]()) }
                    let parked = core.state.block(waiter: id, on: query, above: minIndex, now: now)
                    if parked { core.continuations[id] = continuation }
                    // Moving time to `now` may have woken others.
                    var ready = core.state.takeWakes().compactMap { core.continuations.removeValue(forKey: $0) }
                    let count = core.state.blockedCount
                    for (key, waiter) in core.blockedCountWaiters where waiter.count <= count {
                        core.blockedCountWaiters[key] = nil
                        ready.append(waiter.continuation)
                    }
                    rescheduleTimer(&core)
                    return (parked, ready)
                }
                if !parked { continuation.resume() }
                for waiter in ready { waiter.resume() }
            }
        } onCancel: {
            let continuation = core.withLock { core in
                core.state.unblock(waiter: id)
                let continuation = core.continuations.removeValue(forKey: id)
                if continuation == nil { core.cancelledWaiters.insert(id) }
                return continuation
            }
            continuation?.resume()
        }
        // A waiter that was woken or answered at once leaves no mark behind.
        core.withLock { core in _ = core.cancelledWaiters.remove(id) }
    }
}

#endif
