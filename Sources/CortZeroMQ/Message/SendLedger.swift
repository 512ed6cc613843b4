import Synchronization

/// Counts the payload bytes handed to libzmq that libzmq has not released
/// yet: what waits in a peer's pipe or in libzmq's I/O thread.
///
/// Frames appended with ``ZeroMQMessage/append(noCopy:countedIn:)`` add their
/// size when they are made and remove it when libzmq frees them (on its I/O
/// thread, once written to the connection or dropped with it). A ROUTER that
/// must not buffer without limit for a peer that stops reading keeps one
/// ledger per peer and refuses to send past a budget.
///
/// ```swift
/// let ledger = SendLedger()
/// if ledger.outstanding + answer.count <= budget {
///     var message = ZeroMQMessage(frameCapacity: 2)
///     message.append(peer)
///     message.append(noCopy: answer, countedIn: ledger)
///     _ = try router.trySend(&message)
/// }
/// ```
public final class SendLedger: Sendable {
    private let bytes = Atomic<Int>(0)
    private let parent: SendLedger?

    /// Creates an empty ledger; what it counts is counted in `parent` too
    /// (one ledger per peer, and one over all of them).
    public init(parent: SendLedger? = nil) {
        self.parent = parent
    }

    /// Bytes handed to libzmq and not released yet (a snapshot).
    public var outstanding: Int { bytes.load(ordering: .relaxed) }

    func add(_ count: Int) {
        bytes.add(count, ordering: .relaxed)
        parent?.add(count)
    }

    func remove(_ count: Int) {
        bytes.subtract(count, ordering: .relaxed)
        parent?.remove(count)
    }
}
