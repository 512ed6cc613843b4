/// What a ``Ledger`` call returns: which node ran it, for which key.
public struct LedgerReceipt: Codable, Sendable, Hashable {
    /// The name of the node process that ran the call.
    public var node: String
    /// The call's key, echoed so the caller can check the answer is its own.
    public var key: String

    /// Creates a receipt.
    public init(node: String, key: String) {
        self.node = node
        self.key = key
    }
}
