/// One node's instance of a service, as discovery reports it.
///
/// The `id` is unique per node and service; a caller's `RemoteService` uses it
/// as `ZMQ_CONNECT_ROUTING_ID` when it connects to `endpoint`, so it is
/// limited to 255 UTF-8 bytes (ZeroMQ's routing-id limit).
///
/// ```swift
/// let instance = ServiceInstance(
///     service: "greeter",
///     id: "greeter@node-7f3a",
///     endpoint: "tcp://127.0.0.1:5555",
///     metadata: ["cort_protocol": "1"]
/// )
/// try await LocalDiscovery.shared.register(instance)
/// ```
public struct ServiceInstance: Hashable, Sendable, Codable {
    /// The service's name, such as `greeter`.
    public var service: String
    /// Unique per node and service, such as `greeter@node-7f3a`; the caller's
    /// `ZMQ_CONNECT_ROUTING_ID` for this node.
    public var id: String
    /// Where the node's ROUTER listens: `tcp://`, `ipc://` or `inproc://`.
    public var endpoint: String
    /// Free-form labels (Consul tags).
    public var tags: [String]
    /// Free-form key/value pairs, such as `"cort_protocol": "1"`.
    public var metadata: [String: String]

    /// Creates an instance description; ``validate()`` checks it.
    public init(
        service: String,
        id: String,
        endpoint: String,
        tags: [String] = [],
        metadata: [String: String] = [:]
    ) {
        self.service = service
        self.id = id
        self.endpoint = endpoint
        self.tags = tags
        self.metadata = metadata
    }
}
