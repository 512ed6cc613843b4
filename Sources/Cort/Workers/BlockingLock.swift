#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A value behind a lock that sleeps instead of spinning when it is taken,
/// and whose try-lock stays out of the kernel.
///
/// `Synchronization.Mutex` on Linux spins before it sleeps. A worker pool's
/// state is taken from the reactor's thread and from every worker, on
/// machines where those threads outnumber the cores: a holder preempted
/// while others spin made the spinning a fifth of a node's CPU at 64 calls
/// in flight (`perf record`, 2 cores). A plain pthread mutex sleeps in the
/// kernel at once instead. It is held here directly (as swift-nio's
/// `NIOLock` holds one), not through Foundation's `NSLock`, whose class
/// methods cost about 40 instructions a lock round trip more, four round
/// trips a call on a node (callgrind).
///
/// Its try-lock never enters the kernel. `Mutex`'s does on Linux when the
/// lock is taken (it is a priority-inheriting futex: `FUTEX_TRYLOCK_PI`),
/// and marks the lock so that its holder's unlock is a system call too.
///
/// ```swift
/// let counter = BlockingLock(0)
/// counter.withLock { $0 += 1 }
/// ```
final class BlockingLock<Value>: @unchecked Sendable {
    // @unchecked: `value` is touched only while `mutex` is held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    // Not checked for exclusivity at run time: the lock already keeps other
    // threads out, and the check cost a runtime call per use (four a call on
    // a node, callgrind).
    @exclusivity(unchecked) private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value, the lock held.
    @inline(__always)
    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Runs `body` with the value if the lock is free now; nil, having run
    /// nothing, if it is taken.
    @inline(__always)
    func withLockIfAvailable<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
