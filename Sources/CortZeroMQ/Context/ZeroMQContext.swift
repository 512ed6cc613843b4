internal import CZeroMQ
import Synchronization

/// A libzmq context: the I/O threads and the inproc namespace that sockets share.
///
/// libzmq contexts are thread-safe, so this class is `Sendable`.
///
/// Lifetime, and why nothing here hangs forever:
/// - Every ``ZeroMQSocket`` holds a strong reference to its context, so the
///   context is terminated (`zmq_ctx_term`) only when the last socket and the
///   last user reference are gone. By then every socket is closed, and since a
///   socket's linger is a finite `Duration` (this library never sets libzmq's
///   "linger forever"), `zmq_ctx_term` returns within the longest linger. It
///   runs on a detached thread, so the deinit itself never waits.
/// - ``shutdown()`` does not wait: it makes every blocking call on this
///   context's sockets return ``ZeroMQError/Code/terminated`` and refuses new
///   sockets; the sockets still close normally when they go away.
///
/// ```swift
/// let context = try ZeroMQContext(ioThreads: 1)
/// let socket = try ZeroMQSocket(.dealer, context: context)
/// try socket.connect("tcp://127.0.0.1:5555")
/// ```
public final class ZeroMQContext: Sendable {
    // The handle is a `let` used only through libzmq's thread-safe context API
    // (zmq_socket, zmq_ctx_shutdown, zmq_ctx_term), so sharing it is safe.
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer

    /// How libzmq's threads of a context are scheduled.
    public enum ThreadScheduling: Sendable, Equatable {
        /// As the thread that made them (libzmq's default).
        case inherited
        /// Linux's `SCHED_BATCH`: an I/O thread woken by a send or by the
        /// network does not preempt the thread running on its CPU, so it runs
        /// once that thread blocks or its time slice ends, and moves what
        /// came meanwhile in one go. Otherwise it is scheduled as any thread
        /// (same weight, no privilege needed). Where the system has no such
        /// policy, or refuses it, the threads stay ``inherited``.
        case batch
    }

    /// Whether this process's threads may take `SCHED_BATCH`: libzmq aborts
    /// the process if a thread it starts cannot take the policy, so it is
    /// asked for only once a throwaway thread could. Tried once a process
    /// (a thread started and joined), not once a context.
    private static let batchAllowed = cort_sched_batch_allowed() != 0

    /// How this context's threads are scheduled: what was asked, or
    /// ``ThreadScheduling/inherited`` when `batch` was asked and the
    /// system does not allow it.
    public let threadScheduling: ThreadScheduling

    /// The number libzmq puts before its threads' names (`<prefix>/ZMQbg/IO/0`), if one was given.
    public let threadNamePrefix: Int32?

    /// How many I/O threads libzmq runs for this context (`ZMQ_IO_THREADS`).
    public let ioThreads: Int

    /// The ids of this context's I/O threads, once found (see ``ioThreadSamples()``).
    private let cachedIOThreadIDs = Mutex<[Int32]>([])

    /// Creates a context with `ioThreads` background I/O threads (libzmq's
    /// `ZMQ_IO_THREADS`), scheduled as `threadScheduling` says, and named
    /// `<threadNamePrefix>/ZMQbg/IO/0`… when a prefix is given (libzmq's
    /// `ZMQ_THREAD_NAME_PREFIX`, a number in its stable API; a thread's
    /// name holds 15 bytes).
    ///
    /// - Throws: ``ZeroMQError`` if libzmq cannot create the context or rejects an option.
    public init(ioThreads: Int = 1, threadScheduling: ThreadScheduling = .inherited,
                threadNamePrefix: Int32? = nil) throws {
        let handle = try ZeroMQCall.pointer("zmq_ctx_new") { zmq_ctx_new() }
        let scheduling: ThreadScheduling = threadScheduling == .batch && Self.batchAllowed ? .batch : .inherited
        do {
            try ZeroMQCall.int("zmq_ctx_set") { zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads)) }
            if scheduling == .batch {
                try ZeroMQCall.int("zmq_ctx_set") { zmq_ctx_set(handle, ZMQ_THREAD_SCHED_POLICY, CORT_SCHED_BATCH) }
            }
            if let threadNamePrefix {
                try ZeroMQCall.int("zmq_ctx_set") { zmq_ctx_set(handle, ZMQ_THREAD_NAME_PREFIX, threadNamePrefix) }
            }
        } catch {
            _ = zmq_ctx_term(handle)
            throw error
        }
        self.handle = handle
        self.threadScheduling = scheduling
        self.threadNamePrefix = threadNamePrefix
        self.ioThreads = max(ioThreads, 0)
    }

    /// What Linux's scheduler says of one thread (``ioThreadSamples()``).
    public struct ThreadSample: Sendable, Equatable {
        /// Running, or waiting for a CPU, now.
        public var isRunnable: Bool
        /// CPU time so far.
        public var ran: Duration
        /// Time spent waiting for a CPU so far, counted when each wait ends
        /// (as the thread gets a CPU): a wait going on is not in it yet.
        public var waited: Duration
        /// Times the thread got a CPU so far.
        public var timesScheduled: Int64

        public init(isRunnable: Bool, ran: Duration, waited: Duration, timesScheduled: Int64) {
            self.isRunnable = isRunnable
            self.ran = ran
            self.waited = waited
            self.timesScheduled = timesScheduled
        }
    }

    /// What the scheduler says of each of this context's I/O threads now
    /// (`/proc/self/task/<id>/stat` and `schedstat`); nil where that is
    /// unknown: without a ``threadNamePrefix`` (the threads cannot be told
    /// from those of other contexts), when the prefix names more threads
    /// than this context has (another context took the same one), before
    /// the threads start (with the first socket), or off Linux.
    ///
    /// An I/O thread moves every frame between libzmq and the kernel: while
    /// it waits for a CPU, frames from peers wait in the kernel and frames to
    /// them in libzmq's queues. A failure detector need not count that time
    /// as a peer's silence. Reads two small files per thread (the threads
    /// are looked up by name once).
    public func ioThreadSamples() -> [ThreadSample]? {
        cachedIOThreadIDs.withLock { ids -> [ThreadSample]? in
            if let samples = Self.samples(of: ids) { return samples }
            // Not looked up yet, or a thread is gone: look them up again.
            ids = ioThreadIDs()
            guard ids.count == ioThreads else {
                ids = []
                return nil
            }
            return Self.samples(of: ids)
        }
    }

    /// What the scheduler says of each thread of `ids`; nil when there are
    /// none or one cannot be read.
    private static func samples(of ids: [Int32]) -> [ThreadSample]? {
        guard !ids.isEmpty else { return nil }
        var samples: [ThreadSample] = []
        samples.reserveCapacity(ids.count)
        for id in ids {
            var raw = cort_thread_sample()
            guard cort_thread_sample_read(id, &raw) == 0 else { return nil }
            samples.append(ThreadSample(isRunnable: raw.runnable != 0, ran: .nanoseconds(raw.ran_ns),
                                        waited: .nanoseconds(raw.waited_ns), timesScheduled: raw.slices))
        }
        return samples
    }

    /// How long this context's I/O threads have waited for a CPU so far,
    /// in waits that ended (see ``ioThreadSamples()``); nil when unknown.
    public func ioThreadRunQueueWait() -> Duration? {
        ioThreadSamples()?.reduce(.zero) { $0 + $1.waited }
    }

    /// The ids of this context's I/O threads, looked up by name now (empty
    /// without a ``threadNamePrefix``, before the first socket, or off Linux).
    package func ioThreadIDs() -> [Int32] {
        guard let threadNamePrefix else { return [] }
        return Self.threads(named: "\(threadNamePrefix)/ZMQbg/IO/")
    }

    /// The ids of this process's threads whose name starts with `prefix`
    /// (none when more than 64 do).
    private static func threads(named prefix: String) -> [Int32] {
        var ids = [Int32](repeating: 0, count: 64)
        let found = ids.withUnsafeMutableBufferPointer { buffer in
            cort_threads_named(prefix, buffer.baseAddress, Int32(buffer.count))
        }
        guard found > 0, found <= ids.count else { return [] }
        return Array(ids.prefix(Int(found)))
    }

    /// Makes blocking calls on this context's sockets fail with ``ZeroMQError/Code/terminated``
    /// and new sockets fail to open. Returns at once; idempotent.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // Reached only once every socket is closed (they retain us), so
        // termination waits at most for the longest finite linger of those
        // sockets, on a thread of its own: a deinit may run on one of Swift's
        // cooperative threads, and a node's 2 s linger must not hold it.
        cort_ctx_term_detached(handle)
    }
}
