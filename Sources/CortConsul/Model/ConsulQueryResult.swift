/// The answer to a read: the decoded value and the metadata a blocking query needs.
public struct ConsulQueryResult<Value: Sendable>: Sendable {
    /// The decoded answer.
    public var value: Value
    /// The answer's `X-Consul-Index`: pass it as the next query's index to block until
    /// something changes.
    public var index: UInt64
    /// `X-Consul-KnownLeader`: whether the answering server knew a leader (`nil` when absent).
    public var knownLeader: Bool?
    /// `X-Consul-LastContact`: how stale a `?stale` answer may be (`nil` when absent).
    public var lastContact: Duration?

    /// A result.
    public init(value: Value, index: UInt64, knownLeader: Bool? = nil, lastContact: Duration? = nil) {
        self.value = value
        self.index = index
        self.knownLeader = knownLeader
        self.lastContact = lastContact
    }
}

extension ConsulQueryResult: Equatable where Value: Equatable {}
