import Distributed

/// A service whose listed methods may safely run more than once.
///
/// Failover re-sends a call that may already have run on a node that died
/// only when the call is idempotent: its method is listed here, or the caller
/// set ``CallOptions/idempotent`` for it. Any other such call fails with
/// ``RemoteCallError/Code/outcomeUnknown`` rather than run twice. A call that
/// never reached a node (the send failed, or the node answered `overloaded`
/// or `shuttingDown`) is always moved, idempotent or not.
///
/// Methods are named as Swift writes them, with argument labels and no type
/// (`"balance(of:)"`, `"ping()"`); the conformance is read on the caller's
/// side, so it belongs to the service type both sides share.
///
/// ```swift
/// distributed actor Ledger: IdempotentMethods {
///     typealias ActorSystem = CortSystem
///     static let idempotentMethods: Set<String> = ["balance(of:)"]
///     distributed func balance(of account: String) -> Int { 0 }
///     distributed func deposit(_ amount: Int, to account: String) { }
/// }
/// ```
public protocol IdempotentMethods: DistributedActor {
    /// The methods that are safe to run more than once, by Swift name with labels.
    static var idempotentMethods: Set<String> { get }
}
