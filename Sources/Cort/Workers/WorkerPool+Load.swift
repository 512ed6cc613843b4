extension WorkerPool {
    /// How busy a ``WorkerPool`` is at one moment.
    ///
    /// ```swift
    /// let free = pool.load.freeSlots  // 0: a trySubmit now is likely to be overloaded
    /// ```
    public struct Load: Sendable, Hashable {
        /// Jobs accepted and not yet taken by a worker (a cancelled one keeps
        /// its place until a worker skips it).
        public var queued: Int
        /// Jobs a worker runs now.
        public var running: Int
        /// Submitters suspended in ``WorkerPool/submit(timeout:_:)`` waiting for room.
        public var waiting: Int
        /// The configured number of workers.
        public var workers: Int
        /// The configured queue capacity.
        public var queueCapacity: Int

        /// Idle workers plus free places in the queue: how many more jobs the
        /// pool can take now without anyone waiting.
        public var freeSlots: Int {
            max(0, workers - running) + max(0, queueCapacity - queued)
        }
    }
}
