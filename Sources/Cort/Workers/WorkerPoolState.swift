import DequeModule

/// What a ``WorkerPool`` knows, behind its one lock. No I/O happens here:
/// the pool reads and changes it under the lock and acts afterwards.
struct WorkerPoolState<Worker: Sendable> {
    /// New work is taken (true until `shutdown()`, a failed worker or a cancelled `run()`).
    var accepting = true
    /// Set once by a stop that is not a drain: jobs still queued fail with it.
    var stopError: WorkerPoolError?
    /// `run()` has begun (or `withPool` committed to run it): no submit waits
    /// for a start any more.
    var started = false
    /// `run()` has returned: the pool is stopped for good.
    var finished = false
    /// Submits made before `run()`, waiting to hear that it began (see `WorkerPool+Start`).
    var startWaiters: [UInt64: UnsafeContinuation<Void, Never>] = [:]
    var nextStartWaiter: UInt64 = 0
    /// Free places in the channel. The channel never holds more jobs than
    /// `queueCapacity`, and a positive count means nobody waits for room.
    var permits: Int
    /// Submitters waiting for room, oldest first; their jobs enter the channel in this order.
    var waiters = Deque<any WorkerPoolJob<Worker>>()
    /// The channel: accepted jobs waiting for a worker, oldest first.
    var queue = Deque<any WorkerPoolJob<Worker>>()
    /// Workers waiting for a job, the one that waited last on top (its
    /// thread and caches are the warmest). Never both a job in `queue` and
    /// a worker here: a job sent while one waits goes to it.
    var idleWorkers: [IdleWorker] = []
    /// No job enters the channel any more; workers take what is left, then stop.
    var channelClosed = false
    var running = 0
    /// The job each worker runs now, so a stop can cancel them.
    var runningJobs: [(any WorkerPoolJob<Worker>)?]
    /// Every accepted job with a timeout, until it ends.
    var deadlines = WorkerPoolDeadlines<Worker>()
    /// What the timer sleeps until (nil: until a deadline is added). Only
    /// an earlier deadline wakes it, so steady traffic with one timeout
    /// costs no wake-ups.
    var timerSleepsUntil: Duration?
    var timerWakeRequested = false
    var timerWakeup: UnsafeContinuation<Void, Never>?

    init(configuration: WorkerPool<Worker>.Configuration) {
        permits = configuration.queueCapacity
        runningJobs = Array(repeating: nil, count: configuration.workers)
    }

    /// Why new work is turned away once the pool no longer accepts it.
    var refusal: WorkerPoolError {
        stopError ?? (finished ? .stopped : .notAccepting)
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

    /// A worker waiting for its next job (nil: stop).
    typealias IdleWorker = UnsafeContinuation<(any WorkerPoolJob<Worker>)?, Never>

    /// A job sent to a waiting worker: ``deliver()`` it once the lock is released.
    struct Handoff {
        let worker: IdleWorker
        let job: any WorkerPoolJob<Worker>

        func deliver() { worker.resume(returning: job) }
    }

    /// Puts an accepted job into the channel; when a worker waits, the job
    /// goes to it, as the returned handoff. Called only while the pool
    /// accepts work, so the channel is open.
    mutating func send(_ job: any WorkerPoolJob<Worker>) -> Handoff? {
        if let worker = idleWorkers.popLast() { return Handoff(worker: worker, job: job) }
        queue.append(job)
        return nil
    }

    /// The oldest queued job, when there is one, for a worker that just
    /// finished one: it goes on without suspending (see
    /// ``WorkerPool/serve(_:slot:runner:isolation:)``).
    mutating func takeQueued() -> (any WorkerPoolJob<Worker>)? {
        queue.popFirst()
    }

    /// A worker asks for its next job: the oldest queued one; `.some(nil)`
    /// when the channel is closed and empty (the worker stops); nil when it
    /// must wait (`worker` is kept, and ``send(_:)`` or ``closeChannel()``
    /// resumes it).
    mutating func take(orPark worker: IdleWorker) -> (any WorkerPoolJob<Worker>)?? {
        if let job = takeQueued() { return .some(job) }
        if channelClosed { return .some(nil) }
        idleWorkers.append(worker)
        return nil
    }

    /// Closes the channel; returns the waiting workers, to be resumed with
    /// nil (they stop). What is queued stays for the workers still busy.
    mutating func closeChannel() -> [IdleWorker] {
        channelClosed = true
        defer { idleWorkers.removeAll() }
        return idleWorkers
    }

    /// Takes every job still in the channel (once it is closed and no worker is left to take them).
    mutating func drainChannel() -> Deque<any WorkerPoolJob<Worker>> {
        defer { queue.removeAll() }
        return queue
    }

    /// Stops taking work; returns the waiters, who must be failed.
    mutating func stopAccepting() -> Deque<any WorkerPoolJob<Worker>> {
        accepting = false
        for waiter in waiters { deadlines.remove(waiter) }
        defer { waiters.removeAll() }
        return waiters
    }

    /// Watches an accepted job's deadline; returns the timer's wake-up when
    /// the deadline is earlier than what the timer sleeps until.
    mutating func watch(_ job: any WorkerPoolJob<Worker>) -> UnsafeContinuation<Void, Never>? {
        guard let deadline = job.deadline else { return nil }
        deadlines.insert(job, at: deadline)
        if let sleepsUntil = timerSleepsUntil, sleepsUntil <= deadline { return nil }
        timerWakeRequested = true
        defer { timerWakeup = nil }
        return timerWakeup
    }

    /// A job that ended or gave up leaves the waiters and the deadlines.
    mutating func forget(_ job: any WorkerPoolJob<Worker>) {
        deadlines.remove(job)
        if !waiters.isEmpty, let index = waiters.firstIndex(where: { $0 === job }) {
            waiters.remove(at: index)
        }
    }
}
