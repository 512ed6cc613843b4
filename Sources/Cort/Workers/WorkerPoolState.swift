import DequeModule

/// What a ``WorkerPool`` knows, behind its one lock. No I/O happens here:
/// the pool reads and changes it under the lock and acts afterwards.
struct WorkerPoolState<Worker: Sendable> {
    /// New work is taken (true until `shutdown()`, a failed worker or a cancelled `run()`).
    var accepting = true
    /// Set once by a stop that is not a drain: jobs still queued fail with it.
    var stopError: WorkerPoolError?
    var started = false
    /// Free places in the channel. The channel never holds more jobs than
    /// `queueCapacity`, and a positive count means nobody waits for room.
    var permits: Int
    /// Submitters waiting for room, oldest first; their jobs enter the channel in this order.
    var waiters = Deque<any WorkerPoolJob<Worker>>()
    var running = 0
    /// The job each worker runs now, so a stop can cancel them.
    var runningJobs: [(any WorkerPoolJob<Worker>)?]

    init(configuration: WorkerPool<Worker>.Configuration) {
        permits = configuration.queueCapacity
        runningJobs = Array(repeating: nil, count: configuration.workers)
    }

    /// A job left the channel (or gave back the place it reserved): the
    /// place goes to the oldest waiter, else back to the pool. Returns the
    /// waiter's job, which the caller must put into the channel while still
    /// holding the lock, so waiters enter in order.
    mutating func releasePermit() -> (any WorkerPoolJob<Worker>)? {
        if let next = waiters.popFirst() { return next }
        permits += 1
        return nil
    }

    /// Stops taking work; returns the waiters, who must be failed.
    mutating func stopAccepting() -> Deque<any WorkerPoolJob<Worker>> {
        accepting = false
        defer { waiters.removeAll() }
        return waiters
    }
}
