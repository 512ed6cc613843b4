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
struct IOThreadWaits {
    private var last: [ZeroMQContext.ThreadSample] = []
    private var lastAt: Duration = .zero
    /// Per thread, what of its current wait was counted before it ended.
    private var countedOngoing: [Duration] = []

    /// The longest any of the threads waited for a CPU since the last call
    /// (`samples` read at `now`); zero the first time, or when the threads
    /// changed.
    mutating func waited(_ samples: [ZeroMQContext.ThreadSample], at now: Duration) -> Duration {
        defer {
            last = samples
            lastAt = now
        }
        guard samples.count == last.count, now > lastAt else {
            countedOngoing = Array(repeating: .zero, count: samples.count)
            return .zero
        }
        var longest = Duration.zero
        for (index, (before, sample)) in zip(last, samples).enumerated() {
            let waited: Duration
            if sample.isRunnable, sample.timesScheduled == before.timesScheduled, sample.ran == before.ran {
                // Runnable now and not on a CPU since the last tick: waiting (since then, at most).
                waited = now - lastAt
                countedOngoing[index] += waited
            } else {
                let ended = sample.waited - before.waited
                waited = max(ended - countedOngoing[index], .zero)
                countedOngoing[index] = .zero
            }
            longest = max(longest, waited)
        }
        return longest
    }
}
