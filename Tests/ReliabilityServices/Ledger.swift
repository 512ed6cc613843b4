import Cort
import Distributed

/// The service the process tests call: every execution of a call is written
/// to the node's ``ExecutionLog``, so a test can prove from the nodes' own
/// records which calls ran, and that none ran twice.
///
/// `read(key:)` is idempotent (listed in ``idempotentMethods``); `append(key:)`
/// is not, so failover must never send it twice unless the caller marks the
/// call idempotent with ``CallOptions/idempotent``.
///
/// ```swift
/// try await node.host(Ledger.serviceName, replicas: 4) { system in
///     Ledger(actorSystem: system, node: "node-1", log: log, delay: .zero)
/// }
/// let ledger = try Ledger.resolve(id: .service(Ledger.serviceName), using: caller)
/// let receipt = try await ledger.append(key: "a-17")   // receipt.node == "node-1"
/// ```
public distributed actor Ledger: IdempotentMethods {
    public typealias ActorSystem = CortSystem

    /// The name nodes host it under.
    public static let serviceName = "ledger"

    /// Failover may send a read again: it changes nothing.
    public static let idempotentMethods: Set<String> = ["read(key:)"]

    private let node: String
    private let log: ExecutionLog?
    private let delay: Duration

    /// A replica on node `node` that records every execution in `log` (none
    /// on a caller's side) and takes `delay` per call (a slow node).
    public init(actorSystem: CortSystem, node: String, log: ExecutionLog?, delay: Duration = .zero) {
        self.actorSystem = actorSystem
        self.node = node
        self.log = log
        self.delay = delay
    }

    /// Reads nothing, changes nothing: safe to run any number of times.
    public distributed func read(key: String) async throws -> LedgerReceipt {
        try await execute("read", key: key)
    }

    /// Records `key` as appended: the call that must never run twice.
    public distributed func append(key: String) async throws -> LedgerReceipt {
        try await execute("append", key: key)
    }

    private func execute(_ method: String, key: String) async throws -> LedgerReceipt {
        // Recorded before the work, so a call that started and was then
        // killed still counts as executed.
        try log?.record(method: method, key: key)
        if delay > .zero {
            try await Task.sleep(for: delay)
        }
        return LedgerReceipt(node: node, key: key)
    }
}
