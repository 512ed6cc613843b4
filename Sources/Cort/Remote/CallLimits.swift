/// Bounds on the calls a caller keeps in flight, so that a flood of calls
/// keeps memory bounded and never overruns a node.
///
/// A call is sent only when its node has fewer than `perNode` calls in flight
/// and the service fewer than `perService`. When every usable node is full,
/// the call waits for room (until its deadline) or fails at once with
/// ``RemoteCallError/Code/overloaded``, as `whenFull` says.
///
/// ```swift
/// var configuration = CortSystem.Configuration(name: "caller", discovery: discovery)
/// configuration.callLimits = CallLimits(perNode: 64, perService: 512, whenFull: .failFast)
/// ```
public struct CallLimits: Sendable, Hashable {
    /// What a call does when every usable node is full.
    public enum WhenFull: Sendable, Hashable {
        /// Wait for room until the call's deadline (backpressure on the caller).
        case wait
        /// Fail at once with ``RemoteCallError/Code/overloaded``; the call did not run.
        case failFast
    }

    /// The most calls in flight on one node (at least 1).
    public var perNode: Int
    /// The most calls in flight on one service, over all its nodes (at least 1).
    public var perService: Int
    /// What a call does when every usable node is full.
    public var whenFull: WhenFull

    /// Creates limits; values below 1 are raised to 1.
    public init(perNode: Int = 1024, perService: Int = 16384, whenFull: WhenFull = .wait) {
        self.perNode = max(perNode, 1)
        self.perService = max(perService, 1)
        self.whenFull = whenFull
    }
}
