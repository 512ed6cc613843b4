import Foundation

/// A value behind a lock that sleeps instead of spinning when it is taken.
///
/// `Synchronization.Mutex` on Linux spins before it sleeps. A worker pool's
/// state is taken from the reactor's thread and from every worker, on
/// machines where those threads outnumber the cores: a holder preempted
/// while others spin made the spinning a fifth of a node's CPU at 64 calls
/// in flight (`perf record`, 2 cores). Foundation's `NSLock` (a pthread
/// mutex) sleeps in the kernel at once instead.
///
/// ```swift
/// let counter = BlockingLock(0)
/// counter.withLock { $0 += 1 }
/// ```
final class BlockingLock<Value>: @unchecked Sendable {
    // @unchecked: `value` is touched only while `lock` is held.
    private let lock = NSLock()
    // Not checked for exclusivity at run time: the lock already keeps other
    // threads out, and the check cost a runtime call per use (four a call on
    // a node, callgrind).
    @exclusivity(unchecked) private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with the value, the lock held.
    @inline(__always)
    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
