/// What a caller does when one attempt of a call did not end with an answer
/// to hand back: the failover rules, alone and without I/O.
///
/// - A call that never reached a node (the send found no connection) or that
///   a node refused without running it (`overloaded`, `shuttingDown`) goes to
///   another node, idempotent or not.
/// - A call that may have run (its node died, froze or restarted after it was
///   sent) is sent again only when it is idempotent; otherwise it fails with
///   ``RemoteCallError/Code/outcomeUnknown``, naming the node and what happened.
/// - Every other answer, application errors included, is the call's result:
///   it is not a node failure.
enum Failover {
    /// How one attempt ended.
    enum Attempt: Sendable, Equatable {
        /// libzmq had no connection to send it on: the node never got it.
        case notSent
        /// The node answered.
        case answered(CallFailure?)
        /// The node failed after the call was sent; `reason` says how.
        case nodeFailed(reason: String)
    }

    /// What to do next.
    enum Decision: Sendable, Equatable {
        /// Hand the answer to the caller.
        case deliver
        /// Send the call to another node (within its deadline).
        case tryAnotherNode
        /// Fail the call.
        case fail(RemoteCallError.Code, String)
    }

    static func decide(_ attempt: Attempt, idempotent: Bool, method: String, node: String) -> Decision {
        switch attempt {
        case .notSent:
            return .tryAnotherNode
        case .answered(let failure?) where failure.code == .overloaded || failure.code == .shuttingDown:
            return .tryAnotherNode
        case .answered:
            return .deliver
        case .nodeFailed where idempotent:
            return .tryAnotherNode
        case .nodeFailed(let reason):
            return .fail(.outcomeUnknown,
                         "\(method): node \(node) failed after the call was sent (\(reason)); "
                         + "it may or may not have run, and it is not idempotent, so it was not sent again")
        }
    }
}
