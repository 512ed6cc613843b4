/// How many calls a node that takes calls may hold while other nodes of its
/// service are still joining (connected to but not heard from yet, within
/// ``HeartbeatConfiguration/connectGrace``): its fair part of the calls at
/// hand, as if every joining node were ready already.
///
/// A fresh caller connects to every node at once and the first to answer
/// would otherwise be sent every call of the burst made meanwhile; with this
/// bound it gets a third of them when three nodes are connecting, and the
/// rest wait for the others (never longer than the grace, and only calls
/// whose deadline leaves room for that wait). A single call never waits: its
/// share is one. The rule alone, without I/O, for ``RemoteService``.
enum JoiningShare {
    /// The most calls in flight a node that takes calls may have, or nil for
    /// no bound (no node is joining).
    ///
    /// - Parameters:
    ///   - calls: the calls at hand: in flight, and looking for a node (this one included).
    ///   - ready: the nodes that take calls.
    ///   - joining: the nodes still joining.
    static func limit(calls: Int, ready: Int, joining: Int) -> Int? {
        guard joining > 0 else { return nil }
        let nodes = max(ready, 0) + joining
        return max((max(calls, 1) + nodes - 1) / nodes, 1)
    }

    /// Whether a call due at `deadline` may wait for nodes joining until
    /// `joiningUntil`: only when it would still have a whole `grace` left
    /// after waiting all of it, so waiting never costs a call its answer.
    static func mayWait(deadline: Duration, joiningUntil: Duration, grace: Duration) -> Bool {
        deadline >= joiningUntil + grace
    }
}
