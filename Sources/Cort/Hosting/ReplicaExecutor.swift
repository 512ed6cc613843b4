/// Where a hosted service's replicas run their calls.
///
/// ```swift
/// // The default: replicas on the node's reactor, handed off when a call runs long.
/// try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) }
/// // Methods that compute for most of every call, N of them in parallel from the start:
/// try await node.host("resizer", replicas: 2, executor: .globalPool) { Resizer(actorSystem: $0) }
/// ```
///
/// - ``reactor`` (the default): a call starts on the node's reactor thread,
///   the thread that reads requests and sends answers, so a call costs no
///   thread switch on the node (measured across processes, one call in
///   flight, against the global pool: the node's context switches per call
///   6.4 → 3.5, its CPU per call 156 → 110 µs, the round trip 280 → 221 µs).
///   A method that suspends (awaits I/O, a remote call, `Task.sleep`) blocks
///   nothing. One that computes or blocks without suspending keeps the
///   thread only for `ZeroMQReactor.handOffAfter` (10 ms) to twice that:
///   then the reactor's loop moves to another thread, reading, pinging and
///   answering go on there, and the method finishes on the old thread. So a
///   slow method costs the node's other calls at most about 20 ms once, and
///   slow methods run in parallel, each on its own thread; short methods run
///   one after another on the reactor thread. Cancellation and deadlines
///   reach the method at its next suspension point or check of
///   `Task.isCancelled`, as anywhere.
/// - ``globalPool``: the replicas run on Swift's global concurrent pool,
///   apart from the reactor, so N replicas compute N calls in parallel from
///   their first instruction; every call crosses threads twice on the node
///   (reactor → worker → reactor). For services whose every call computes
///   for a while on a node with cores to spare.
///
/// Sendable and Hashable: a value.
public struct ReplicaExecutor: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable { case reactor, globalPool }

    private let kind: Kind

    /// The node's reactor thread, moving its loop to another thread when a call runs long: no thread switch per call.
    public static let reactor = ReplicaExecutor(kind: .reactor)
    /// Swift's global concurrent pool: a thread switch each way per call; for methods that mostly compute.
    public static let globalPool = ReplicaExecutor(kind: .globalPool)

    /// "reactor" or "globalPool".
    public var description: String {
        switch kind {
        case .reactor: "reactor"
        case .globalPool: "globalPool"
        }
    }

    var runsOnReactor: Bool { kind == .reactor }
}
