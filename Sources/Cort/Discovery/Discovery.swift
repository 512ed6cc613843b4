/// Where a service's nodes are: the one interface every discovery backend
/// implements (``LocalDiscovery`` in-process, ``StaticDiscovery`` fixed
/// endpoints, and `ConsulDiscovery` in the CortConsul module).
///
/// Nodes ``register(_:)`` what they host and ``deregister(_:)`` it when they
/// drain; callers ``watch(service:)`` a service's node list, usually through
/// a ``ServiceDirectory`` rather than directly. Tools list what a backend
/// knows with ``services()`` and ``instances(of:within:)``.
///
/// ```swift
/// let discovery: any Discovery = LocalDiscovery.shared
/// try await discovery.register(ServiceInstance(service: "greeter", id: "greeter@a", endpoint: "tcp://127.0.0.1:5555"))
/// for try await nodes in discovery.watch(service: "greeter") {
///     print(nodes.map(\.endpoint))   // ["tcp://127.0.0.1:5555"]
///     break
/// }
/// ```
public protocol Discovery: Sendable {
    /// Announces `instance`; registering an id again replaces what was registered under it.
    func register(_ instance: ServiceInstance) async throws
    /// Withdraws `instance` (matched by service and id).
    func deregister(_ instance: ServiceInstance) async throws
    /// The service's current node list first, then a new list on every
    /// change, each sorted by id. The stream stays open until the consumer
    /// stops iterating (which must release everything the watch holds) or
    /// the backend fails (it then throws; a ``ServiceDirectory`` keeps the
    /// last good list and watches again).
    func watch(service: String) -> AsyncThrowingStream<[ServiceInstance], any Error>
    /// The names of the services this backend knows, sorted, for tools such
    /// as `cort services`. A backend that cannot list them keeps the default,
    /// which throws ``DiscoveryError/Code/unsupported``.
    func services() async throws -> [String]
}
