/// The identity of a distributed actor in cort.
///
/// Two kinds of identity:
/// - a **service**: `CortActorID.service("greeter")` names every replica of a
///   hosted service on every node; calls are spread over the nodes discovery
///   reports for it;
/// - an **instance**: one actor on one node, reached at that node's endpoint.
///   Local actors get one when they are created; an instance reference can be
///   passed as an argument or returned, and resolves on the other side. The
///   system holds local actors weakly: keep an actor alive (for example in the
///   service that created it) for as long as others may call it; after that,
///   calls to it fail with ``RemoteCallError/Code/unknownTarget``.
///
/// ```swift
/// let greeter = try Greeter.resolve(id: .service("greeter"), using: system)
/// ```
public struct CortActorID: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The service (for instances: the service or type the actor belongs to).
    public var service: String
    /// The actor instance on its node, or nil for "any replica of the service".
    public var instance: String?
    /// The endpoint of the node that hosts the instance (nil for a service,
    /// or for an actor whose system serves no endpoint).
    public var endpoint: String?

    /// An identity naming a whole service.
    public static func service(_ name: String) -> CortActorID {
        CortActorID(service: name, instance: nil, endpoint: nil)
    }

    /// Creates an identity.
    public init(service: String, instance: String?, endpoint: String?) {
        self.service = service
        self.instance = instance
        self.endpoint = endpoint
    }

    /// Whether this names a whole service rather than one actor.
    public var isService: Bool { instance == nil }

    public var description: String {
        guard let instance else { return "service \(service)" }
        return "\(service)/\(instance)@\(endpoint ?? "local")"
    }
}
