import CortZeroMQ

/// How long a system's libzmq I/O threads waited for a CPU between two
/// heartbeat ticks, from what the scheduler says of them at each
/// (``ZeroMQContext/ioThreadSamples()``).
///
/// While an I/O thread waits for a CPU, frames from nodes wait in the
/// kernel and pings to them in libzmq's queue: that time is this caller's
/// delay, not the nodes' silence (see ``NodeHealth/ioThreadWaited(_:at:)``).
/// Linux counts a wait when it ends, as the thread gets a CPU; a thread
/// that is runnable and has neither run nor been scheduled since the last
/// tick is waiting now, and the time since the last tick is counted at once
/// (a starved thread's wait may not end for seconds). That may count a
/// little more than the wait: the thread may have slept in that time before
/// it became runnable, at most one tick's span. The part of a wait counted
/// so is taken off when the wait ends.
///
/// Waits that ended count only when they were long one by one (on average
/// at least `minimum`, a quarter of the heartbeat interval): a frame waits
/// for one of them, not for their sum. Beside CPU hogs a busy I/O thread
/// waits a few milliseconds at each of hundreds of wake-ups a second; their
/// sum, cut out of every node's silence, delayed finding a node cut off by
/// a partition past its liveness timeout (3.62 s for 3 s + 0.6 s).
struct IOThreadWaits {
    private var last: [ZeroMQContext.ThreadSample] = []
    private var lastAt: Duration = .zero
    /// Per thread, what of its current wait was counted before it ended.
    private var countedOngoing: [Duration] = []

    /// The longest any of the threads waited for a CPU since the last call
    /// (`samples` read at `now`), in waits of `minimum` or more; zero the
    /// first time, or when the threads changed.
    mutating func waited(_ samples: [ZeroMQContext.ThreadSample], at now: Duration, minimum: Duration) -> Duration {
        defer {
            last = samples
            lastAt = now
        }
        guard samples.count == last.count else {
            countedOngoing = Array(repeating: .zero, count: samples.count)
            return .zero
        }
        // Read twice at one instant: nothing between.
        guard now > lastAt else { return .zero }
        var longest = Duration.zero
        for (index, (before, sample)) in zip(last, samples).enumerated() {
            let waited: Duration
            if sample.isRunnable, sample.timesScheduled == before.timesScheduled, sample.ran == before.ran {
                // Runnable now and not on a CPU since the last tick: waiting (since then, at most).
                waited = now - lastAt
                countedOngoing[index] += waited
            } else {
                let ended = max(sample.waited - before.waited - countedOngoing[index], .zero)
                let waits = max(sample.timesScheduled - before.timesScheduled, 1)
                // The part of a wait counted while it went on ends it: the rest counts.
                let longOnes = countedOngoing[index] > .zero || ended / waits >= minimum
                waited = longOnes ? ended : .zero
                countedOngoing[index] = .zero
            }
            longest = max(longest, waited)
        }
        return longest
    }
}
