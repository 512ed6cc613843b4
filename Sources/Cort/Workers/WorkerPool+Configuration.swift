extension WorkerPool {
    /// How many workers a ``WorkerPool`` runs and how much work may wait.
    ///
    /// ```swift
    /// let configuration = WorkerPool<Resizer>.Configuration(workers: 4, queueCapacity: 64)
    /// ```
    public struct Configuration: Sendable, Hashable {
        /// How many workers run (and how many jobs run at once); at least 1.
        public var workers: Int
        /// How many accepted jobs may wait for a worker; at least 1. More
        /// submitters wait (``WorkerPool/submit(timeout:_:)``) or are
        /// turned away (``WorkerPool/trySubmit(timeout:_:)``).
        public var queueCapacity: Int

        /// Creates a configuration; ``WorkerPool/init(configuration:clock:taskExecutor:makeWorker:)`` checks it.
        public init(workers: Int, queueCapacity: Int) {
            self.workers = workers
            self.queueCapacity = queueCapacity
        }

        func validate() throws {
            guard workers > 0 else {
                throw WorkerPoolError(
                    .invalidConfiguration, "a worker pool needs at least 1 worker (got \(workers))")
            }
            guard queueCapacity > 0 else {
                throw WorkerPoolError(
                    .invalidConfiguration, "a worker pool's queue needs room for at least 1 job (got \(queueCapacity))")
            }
        }
    }
}
