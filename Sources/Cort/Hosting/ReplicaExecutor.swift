/// Where a hosted service's replicas run their calls.
///
/// ```swift
/// // The default: replicas on the global pool, N replicas run N calls in parallel.
/// try await node.host("resizer", replicas: 2) { Resizer(actorSystem: $0) }
/// // Calls that suspend (I/O, other services) rather than compute:
/// try await node.host("greeter", replicas: 4, executor: .reactor) { Greeter(actorSystem: $0) }
/// ```
///
/// - ``reactor``: the replicas run on the node's reactor thread, the thread
///   that reads requests and sends answers, so a call costs no thread switch
///   on the node (measured with one call in flight across processes: the
///   round trip went from about 210 µs to 115–135 µs, the node's context
///   switches per call from 8.3 to 4, its CPU per call from 130 to 50 µs). While a method runs between two
///   suspension points, the node reads no request, sends no answer and runs
///   no other service's method: a method that computes for milliseconds adds
///   those milliseconds to every call on the node. A method that suspends
///   (awaits I/O, a remote call, `Task.sleep`) blocks nothing. Cancellation
///   and deadlines reach the method as they do on the global pool, at its
///   next suspension point or check of `Task.isCancelled`.
/// - ``globalPool`` (the default): the replicas run on Swift's global
///   concurrent pool, apart from the reactor, so N replicas run N calls in
///   parallel; every call crosses threads twice on the node (reactor → worker
///   → reactor), but a long or blocking method delays only its own replica.
///
/// Sendable and Hashable: a value.
public struct ReplicaExecutor: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable { case reactor, globalPool }

    private let kind: Kind

    /// The node's reactor thread: no thread switch per call; for methods that suspend rather than compute.
    public static let reactor = ReplicaExecutor(kind: .reactor)
    /// Swift's global concurrent pool: a thread switch each way per call; for methods that compute or block.
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
