/// What ``Echo/echoNamingNode(_:)`` answers: the payload, and which node
/// process answered it.
public struct EchoReply: Codable, Sendable, Hashable {
    /// The process id of the node that ran the call.
    public var node: Int32
    /// The payload, unchanged.
    public var payload: [UInt8]

    /// Creates a reply.
    public init(node: Int32, payload: [UInt8]) {
        self.node = node
        self.payload = payload
    }
}
